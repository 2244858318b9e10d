import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp, type App } from '../../src/app.js';
import { createLogger, type Logger } from '../../src/ops/logger.js';
import { testConfig, type Isolation } from './env.js';

/**
 * stepup in-process on a free loopback port, against the real Postgres and Redis. The issuer uses
 * `localhost` (not 127.0.0.1) because WebAuthn and cookies need one consistent host name.
 */
export interface RunningServer {
  issuer: string;
  app: App;
  clock: { offset: number };
  close(): Promise<void>;
}

export async function startServer(iso: Isolation, env: Record<string, string> = {}, opts: { logger?: Logger } = {}): Promise<RunningServer> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://localhost:${port}`;
  const clock = { offset: 0 };
  const app = await createApp(testConfig(iso, issuer, env), {
    schema: iso.schema,
    logger: opts.logger ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    now: () => Math.floor(Date.now() / 1000) + clock.offset,
  });
  server.on('request', app.callback);
  return {
    issuer,
    app,
    clock,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
    },
  };
}
