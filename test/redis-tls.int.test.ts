import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRedis } from '../src/store/redis/client.js';
import { freePort } from './support/process.js';

/**
 * Issue #18: TLS to Redis (`rediss://`, REDIS_TLS_CA_FILE). A redis-server with TLS only, its
 * certificate from a CA made here: trusted with the CA file, refused without it (no silent fallback to
 * an unverified connection).
 */
const dir = mkdtempSync(join(tmpdir(), 'stepup-redis-tls-'));
let child: ChildProcess;
let port = 0;

function openssl(...args: string[]) {
  const res = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${res.stderr}`);
}

beforeAll(async () => {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=stepup test CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
  port = await freePort();
  child = spawn('/usr/bin/redis-server', ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--tls-cert-file', join(dir, 'server.pem'), '--tls-key-file', join(dir, 'server.key'), '--tls-ca-cert-file', join(dir, 'ca.pem'), '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
});

afterAll(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('TLS to Redis', () => {
  it('rediss:// with REDIS_TLS_CA_FILE: the certificate is verified against that CA and the connection works', async () => {
    let redis = createRedis({ url: `rediss://localhost:${port}`, tlsCaFile: join(dir, 'ca.pem') });
    for (let i = 0; i < 20; i++) {
      try {
        expect(await redis.ping()).toBe('PONG');
        break;
      } catch (err) {
        if (i === 19) throw err;
        redis.disconnect();
        await new Promise((r) => setTimeout(r, 250));
        redis = createRedis({ url: `rediss://localhost:${port}`, tlsCaFile: join(dir, 'ca.pem') });
      }
    }
    await redis.set('stepup-tls-test', '1', 'EX', 5);
    expect(await redis.get('stepup-tls-test')).toBe('1');
    redis.disconnect();
  });

  it('without the CA file the server is not trusted: commands fail, nothing is sent unverified', async () => {
    const redis = createRedis({ url: `rediss://localhost:${port}` });
    const seen: string[] = [];
    redis.on('error', (err: Error) => seen.push(err.message));
    await expect(redis.ping()).rejects.toThrow();
    redis.disconnect();
    expect(seen.some((m) => /certificate/i.test(m))).toBe(true);
  });
});
