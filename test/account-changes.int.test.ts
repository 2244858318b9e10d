import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createLogger } from '../src/ops/logger.js';
import { accountChangesConnectionName, createAccountChanges, type AccountChanges } from '../src/store/account-changes.js';
import { newIsolation, TEST_REDIS_URL } from './support/env.js';

/**
 * Issue #20: the feed of changed accounts between instances (Redis pub/sub). A cache may answer from
 * memory only while the feed is live; a lost subscription makes it not live at once and, back, resets.
 */
const iso = newIsolation();
const clients: Redis[] = [];
const feeds: AccountChanges[] = [];
afterAll(() => {
  for (const f of feeds) f.close();
  for (const c of clients) c.disconnect();
});

function feed(): { changes: AccountChanges; heard: (string | undefined)[] } {
  const redis = new Redis(TEST_REDIS_URL);
  clients.push(redis);
  const changes = createAccountChanges(redis, iso.redisPrefix, createLogger('silent'), { external: true });
  feeds.push(changes);
  const heard: (string | undefined)[] = [];
  changes.onChange((id) => heard.push(id));
  return { changes, heard };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe('the account change feed (issue #20)', () => {
  it('is not live before it subscribes; an announcement reaches the other instance and the announcing one', async () => {
    const a = feed();
    const b = feed();
    expect(a.changes.live).toBe(false);
    a.changes.listen();
    await until(() => a.changes.live, 'A live');
    await b.changes.announce('account-1');
    expect(b.heard).toEqual(['account-1']); // synchronously, before the publish returned
    await until(() => a.heard.includes('account-1'), 'A to hear the change');
  });

  it('a lost subscription stops the cache at once, and coming back resets it', async () => {
    const a = feed();
    a.changes.listen();
    await until(() => a.changes.live, 'A live');
    const resetsBefore = a.heard.filter((h) => h === undefined).length;
    // end the subscriber's connection from the server side, as a Redis restart or failover would
    const admin = new Redis(TEST_REDIS_URL);
    clients.push(admin);
    const list = (await admin.client('LIST')) as string;
    // this run's own subscribers only (the name carries the run's key prefix): other runs share this Redis
    const mine = list.split('\n').filter((l) => l.includes(` name=${accountChangesConnectionName(iso.redisPrefix)} `));
    expect(mine.length).toBeGreaterThan(0);
    for (const line of mine) await admin.client('KILL', 'ID', /(?:^|\s)id=(\d+)/.exec(line)![1]!);
    await until(() => !a.changes.live, 'A not live');
    await until(() => a.changes.live, 'A live again');
    expect(a.heard.filter((h) => h === undefined).length).toBeGreaterThan(resetsBefore);
  });
});
