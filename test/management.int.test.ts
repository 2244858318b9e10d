import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createIsolationSchema, dropIsolation, newIsolation, testEnv } from './support/env.js';
import { freePort, runCli, startServerProcess } from './support/process.js';

/** Issue #17: `stepup serve` (npm start) opens the management interface next to the public port, internal by default. */
const iso = newIsolation();
jest.setTimeout(120_000); // each test starts a real process
beforeAll(() => createIsolationSchema(iso));
afterAll(() => dropIsolation(iso));

/** This machine's own non-loopback IPv4 address, if it has one (connecting to it stays on this host). */
const ownAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

const answers = (url: string) =>
  fetch(url, { signal: AbortSignal.timeout(5_000) }).then(
    (res) => res.status,
    () => 'refused' as const,
  );

describe('the management listener of a started server', () => {
  it('serves /metrics on MANAGEMENT_PORT at 127.0.0.1 only; the public port answers 404 there', async () => {
    const port = await freePort();
    const managementPort = await freePort();
    const server = await startServerProcess({ ...testEnv(iso, `http://localhost:${port}`), MANAGEMENT_PORT: String(managementPort), LOG_LEVEL: 'info' }, port);
    try {
      expect(await answers(`http://127.0.0.1:${managementPort}/metrics`)).toBe(200);
      expect(await answers(`http://127.0.0.1:${managementPort}/readyz`)).toBe(200);
      expect(await answers(`http://127.0.0.1:${port}/metrics`)).toBe(404);
      expect(await answers(`http://127.0.0.1:${port}/healthz`)).toBe(200);
      if (ownAddress) {
        // the public port listens on every interface; the management one (MANAGEMENT_HOST default) does not
        expect(await answers(`http://${ownAddress}:${port}/healthz`)).toBe(200);
        expect(await answers(`http://${ownAddress}:${managementPort}/metrics`)).toBe('refused');
      }
    } finally {
      expect(await server.stop()).toBe(0);
    }
    // the start's log line names where the management interface listens (the log is flushed on exit)
    expect(server.output()).toContain(`"management":"http://127.0.0.1:${managementPort}"`);
  });

  it('the embedded default with no MANAGEMENT_PORT named still starts when 9000 is taken, on a free port it names (issue #15)', async () => {
    const busy = createServer();
    // 9000 may already be taken by another program here: either way it is taken while the server starts
    await new Promise<void>((resolve) => busy.once('error', () => resolve()).listen(9000, '127.0.0.1', resolve));
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'stepup-mgmt-'));
    try {
      const server = await startServerProcess({ DATA_DIR: dataDir, MANAGEMENT_PORT: undefined, LOG_LEVEL: 'warn' }, port, 120_000);
      try {
        expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
        // the printed quick-start block says where /metrics went
        const moved = /Metrics: +(http:\/\/127\.0\.0\.1:(\d+)\/metrics)/.exec(server.output());
        expect(moved).not.toBeNull();
        expect(moved![2]).not.toBe('9000');
        expect((await fetch(moved![1]!)).status).toBe(200);
      } finally {
        expect(await server.stop()).toBe(0);
      }
      // and the log says why (flushed on exit)
      expect(server.output()).toContain('MANAGEMENT_PORT 9000 is in use: the management interface (/metrics) listens on');
    } finally {
      if (busy.listening) busy.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a MANAGEMENT_PORT in use stops the start with a sentence naming it', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const taken = (busy.address() as { port: number }).port;
    try {
      const result = await runCli(['serve'], { ...testEnv(iso, 'http://localhost:3998'), PORT: String(await freePort()), MANAGEMENT_PORT: String(taken) });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`stepup: MANAGEMENT_PORT ${taken} on 127.0.0.1 is in use`);
    } finally {
      busy.close();
    }
  });
});
