import { spawn } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { ROOT } from './support/process.js';

/**
 * Issue #6 (idle RSS): the embedded default's PGlite and ioredis-mock (about 19 MiB resident) are
 * loaded only when DATABASE_URL / REDIS_URL are absent, never by a production server.
 */
describe('production footprint', () => {
  // …and @simplewebauthn/server and qrcode (about 20 MiB) wait for the first ceremony or enrollment
  it('loading the whole server and a Redis client with REDIS_URL loads neither PGlite nor ioredis-mock (nor the WebAuthn and QR libraries)', async () => {
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/loaded-modules.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...(process.env.TEST_REDIS_URL ? { TEST_REDIS_URL: process.env.TEST_REDIS_URL } : {}) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
    });
    expect(JSON.parse(output)).toEqual({
      ioredisMockLoadedWithRedisUrl: false,
      ioredisMockLoadedWithoutRedisUrl: true,
      pgliteRefusedByHook: true,
      webauthnLibraryRefusedByHook: true,
    });
  });
});
