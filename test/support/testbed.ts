import { afterAll, beforeAll } from '@jest/globals';
import type * as oidc from 'openid-client';
import type { Browser as Chromium } from 'playwright-core';
import { launchChromium } from './chromium.js';
import { dropIsolation, newIsolation, type Isolation } from './env.js';
import { createConfidentialClient, discover } from './rp.js';
import type { SendNotice } from '../../src/notifications/notices.js';
import { startServer, type RunningServer } from './server.js';

/**
 * The set-up every flow test shares (issue #13): stepup in-process on the real Postgres and Redis in
 * its own schema and key prefix, one confidential RP client discovered with openid-client and, when
 * asked, Debian Chromium. Registers its own beforeAll/afterAll; the fields are filled in beforeAll.
 */
export interface Testbed {
  iso: Isolation;
  server: RunningServer;
  config: oidc.Configuration;
  client: { clientId: string; clientSecret: string };
  chromium: Chromium;
  /** the server's clock (epoch seconds), which tests may move with server.clock.offset */
  now(): number;
}

export function useTestbed(opts: { chromium?: boolean; env?: Record<string, string>; client?: Record<string, unknown>; sendNotice?: SendNotice } = {}): Testbed {
  const bed = { iso: newIsolation(), now: () => Math.floor(Date.now() / 1000) + (bed.server?.clock.offset ?? 0) } as Testbed;
  beforeAll(async () => {
    bed.server = await startServer(bed.iso, opts.env ?? {}, { sendNotice: opts.sendNotice });
    bed.client = await createConfidentialClient(bed.server.app, opts.client ?? {});
    bed.config = await discover(bed.server.issuer, bed.client.clientId, bed.client.clientSecret);
    if (opts.chromium) bed.chromium = await launchChromium();
  });
  afterAll(async () => {
    await bed.chromium?.close();
    await bed.server?.close();
    await dropIsolation(bed.iso);
  });
  return bed;
}
