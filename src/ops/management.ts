import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import type { Logger } from './logger.js';
import { createHealthRouter, type StoreProbe } from './health.routes.js';
import type { Metrics } from './metrics.js';

/**
 * The management interface (issue #17, like Keycloak's): /metrics (Prometheus), /healthz and /readyz
 * on their own listener, MANAGEMENT_PORT on MANAGEMENT_HOST (127.0.0.1 by default), never on the
 * public port. Nothing here is for people or relying parties: no sessions, no cookies, no pages.
 */
export function createManagementApp(deps: { metrics: Pick<Metrics, 'scrape'>; probe: StoreProbe; logger: Logger }): RequestListener {
  const app = new Koa();
  app.silent = true;
  app.on('error', (err: Error) => deps.logger.warn({ err: { message: err.message } }, 'management request failed'));
  const router = createHealthRouter(deps.probe);
  router.get('/metrics', async (ctx) => {
    // the store gauges say how the stores answer now, not at the last readiness check
    await deps.probe();
    const { contentType, body } = await deps.metrics.scrape();
    ctx.set('Cache-Control', 'no-store');
    ctx.type = contentType;
    ctx.body = body;
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use((ctx) => {
    ctx.status = 404;
    ctx.body = { type: 'about:blank', title: 'Not Found', status: 404 };
  });
  return app.callback();
}

export interface ManagementListener {
  server: Server;
  /** where it listens, e.g. http://127.0.0.1:9000 (with MANAGEMENT_PORT=0: the port the system chose) */
  url: string;
  address: AddressInfo;
  close(): Promise<void>;
}

/** The management port is taken by another program (the error's `code`, for a caller that may pick another). */
export class ManagementPortInUse extends Error {
  readonly code = 'EADDRINUSE';
}

/** Listens on MANAGEMENT_HOST:MANAGEMENT_PORT; a port in use fails the start with a sentence that names the variable. */
export async function listenManagement(callback: RequestListener, port: number, host: string): Promise<ManagementListener> {
  const server = createServer(callback);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new ManagementPortInUse(`MANAGEMENT_PORT ${port} on ${host} is in use (set MANAGEMENT_PORT to a free port, or 0 for any)`) : new Error(`cannot listen on MANAGEMENT_HOST ${host}, MANAGEMENT_PORT ${port}: ${err.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    address,
    url: `http://${hostPart}:${address.port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
