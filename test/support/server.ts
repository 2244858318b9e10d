import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp, type App, type AppOptions } from '../../src/app.js';
import { createLogger, type Logger } from '../../src/ops/logger.js';
import { listenManagement } from '../../src/ops/management.js';
import type { Notice, SendNotice } from '../../src/notifications/notices.js';
import { testConfig, type Isolation } from './env.js';

/**
 * stepup in-process on a free loopback port, against the real Postgres and Redis. The issuer uses
 * `localhost` (not 127.0.0.1) because WebAuthn and cookies need one consistent host name.
 */
export interface RunningServer {
  issuer: string;
  app: App;
  /** the management interface (/metrics, /healthz, /readyz) on MANAGEMENT_HOST, on a port of its own (MANAGEMENT_PORT=0) */
  managementUrl: string;
  clock: { offset: number };
  close(): Promise<void>;
}

/**
 * @param opts.schema null: no schema of the run's own (a database of its own instead, e.g. behind
 *   PgBouncer, which cannot keep a search_path set per connection)
 */
export async function startServer(iso: Isolation, env: Record<string, string> = {}, opts: { logger?: Logger; sendNotice?: SendNotice; schema?: null; outbox?: AppOptions['outbox'] } = {}): Promise<RunningServer> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://localhost:${port}`;
  const clock = { offset: 0 };
  const config = testConfig(iso, issuer, env);
  const app = await createApp(config, {
    schema: opts.schema === null ? undefined : iso.schema,
    logger: opts.logger ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    now: () => Math.floor(Date.now() / 1000) + clock.offset,
    sendNotice: opts.sendNotice,
    outbox: opts.outbox,
  });
  server.on('request', app.callback);
  const management = await listenManagement(app.managementCallback, config.managementPort, config.managementHost);
  return {
    issuer,
    app,
    managementUrl: management.url,
    clock,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await management.close();
      await app.close();
    },
  };
}

/** A notifier that keeps what it was asked to send (issue #15: tests read the forgot-password link from it). */
export function capturingNotices(): { sent: Notice[]; send: SendNotice; next(): Promise<Notice> } {
  const sent: Notice[] = [];
  let seen = 0;
  return {
    sent,
    send: async (notice) => void sent.push(notice),
    // the forgot-password answer does not wait for the link to be sent: wait for it here
    async next() {
      for (let i = 0; i < 100 && sent.length <= seen; i++) await new Promise((r) => setTimeout(r, 20));
      if (sent.length <= seen) throw new Error('no notice was sent');
      return sent[seen++]!;
    },
  };
}
