import type { RedisClient } from './redis/client.js';
import { createAudit, type Audit } from '../audit/audit.js';
import type { Config } from '../config/env.js';
import { createSealer } from '../crypto/encryption.js';
import type { Logger } from '../ops/logger.js';
import { announcingAccountWrites, createAccountChanges, type AccountChanges } from './account-changes.js';
import { createAccountsRepo, type AccountsRepo } from './accounts.repo.js';
import { createAuditRepo } from './audit.repo.js';
import { createClientsRepo, type ClientsRepo } from './clients.repo.js';
import { createDb, migrateLatest, type Db } from './db.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.js';
import { createFactorsRepo, type FactorsRepo } from './factors.repo.js';
import { createRecoveryCodesRepo, type RecoveryCodesRepo } from './recovery-codes.repo.js';
import { createPasswordResetsRepo, type PasswordResetsRepo } from './password-resets.repo.js';
import { createRedis, isExternalRedis } from './redis/client.js';
import { createSigningKeysRepo, type SigningKeysRepo } from './signing-keys.repo.js';
import { createOutboxRepo, type OutboxRepo } from './outbox.repo.js';
import { createKnownDevicesRepo, type KnownDevicesRepo } from './known-devices.repo.js';

export interface Stores {
  db: Db;
  redis: RedisClient;
  accounts: AccountsRepo;
  /** issue #20: account writes announce the account (this process and the other instances) */
  accountChanges: AccountChanges;
  clients: ClientsRepo;
  signingKeys: SigningKeysRepo;
  factors: FactorsRepo;
  recoveryCodes: RecoveryCodesRepo;
  passwordResets: PasswordResetsRepo;
  /** issue #16: the devices and networks each account signed in from */
  knownDevices: KnownDevicesRepo;
  audit: Audit;
  /** issue #17: mails and webhook deliveries waiting to leave */
  outbox: OutboxRepo;
  embedded?: EmbeddedPostgres;
  close(): Promise<void>;
}

/** Opens Postgres (or the embedded one) and Redis (or the in-process one), and migrates. Used by the server and the CLI. */
export async function openStores(config: Config, logger: Logger, schema?: string, opts: { outboxClock?: () => Date } = {}): Promise<Stores> {
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir);
  const db = createDb({ url: config.databaseUrl ?? embedded!.url, schema, poolMax: embedded ? 4 : 10 });
  try {
    await migrateLatest(db, schema, { singleInstance: Boolean(embedded) });
  } catch (err) {
    await db.destroy();
    await embedded?.stop();
    throw err;
  }
  const redis = createRedis(config.redis);
  redis.on?.('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'redis error'));
  const sealer = createSealer(config.encryptionKey);
  const auditRepo = createAuditRepo(db);
  const outbox = createOutboxRepo(db, sealer, opts.outboxClock);
  const accountChanges = createAccountChanges(redis, config.redisKeyPrefix, logger, { external: isExternalRedis(config.redis) });
  return {
    db,
    redis,
    embedded,
    accountChanges,
    accounts: announcingAccountWrites(createAccountsRepo(db), accountChanges),
    clients: createClientsRepo(db, sealer),
    signingKeys: createSigningKeysRepo(db, sealer),
    factors: createFactorsRepo(db, sealer),
    recoveryCodes: createRecoveryCodesRepo(db),
    passwordResets: createPasswordResetsRepo(db),
    // with WEBHOOK_URL the selected audit events are written to the outbox with the event (issue #17);
    // the CLI's events too: the server's worker delivers them
    audit: createAudit(auditRepo, logger, config.webhook ? { events: config.webhook.events, outbox } : undefined),
    outbox,
    knownDevices: createKnownDevicesRepo(db),
    async close() {
      accountChanges.close();
      redis.disconnect();
      await db.destroy();
      await embedded?.stop();
    },
  };
}

