/**
 * Run as a child process by test/production-footprint.int.test.ts: loads the whole server the way
 * `stepup serve` does and reports whether the embedded-default-only packages were loaded. An ESM resolve
 * hook refuses PGlite; ioredis-mock is CommonJS, so it shows up in the require cache when loaded.
 * The hook also refuses @simplewebauthn/server and qrcode, loaded only when a WebAuthn ceremony is
 * checked or a TOTP enrollment shown: loading the server must not need them.
 */
import { createRequire, register } from 'node:module';

const refuse = `export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@electric-sql/pglite') || specifier === '@simplewebauthn/server' || specifier === 'qrcode') throw new Error('refused ' + specifier);
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(refuse)}`);
const requireCache = () => Object.keys(createRequire(import.meta.url).cache);
const ioredisMockLoaded = () => requireCache().some((k) => k.includes('/ioredis-mock/'));

const report: Record<string, boolean> = {};
await import('../../src/app.js');
const { createRedis } = await import('../../src/store/redis/client.js');
createRedis({ url: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' }).disconnect();
report.ioredisMockLoadedWithRedisUrl = ioredisMockLoaded();
// the controls: the embedded default does load them (so the checks above can see a load)
createRedis({}).disconnect();
report.ioredisMockLoadedWithoutRedisUrl = ioredisMockLoaded();
report.pgliteRefusedByHook = await import('@electric-sql/pglite').then(
  () => false,
  () => true,
);
report.webauthnLibraryRefusedByHook = await import('@simplewebauthn/server').then(
  () => false,
  () => true,
);
process.stdout.write(JSON.stringify(report));
