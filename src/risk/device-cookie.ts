import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

/**
 * Issue #16 newDevice: a browser is a device by a long-lived cookie holding a random id (256 bits),
 * signed with COOKIE_KEYS like stepup's other cookies (any configured key verifies: rotation). The id
 * is bound to accounts server-side (known_devices holds only its SHA-256). HttpOnly, SameSite=Lax,
 * Secure where the issuer is https, path /; at most 400 days, the longest a browser keeps a cookie.
 */
export const DEVICE_COOKIE = 'stepup.device';

const ID_SHAPE = /^[A-Za-z0-9_-]{43}$/;
const mac = (key: string, id: string) => createHmac('sha256', key).update(`device:${id}`).digest();

/** What is stored for a device id: its SHA-256, base64url (a database copy cannot be made into a cookie). */
export const deviceDigest = (id: string) => createHash('sha256').update(id, 'utf8').digest('base64url');

export function createDeviceCookie(keys: string[], opts: { secure: boolean }) {
  const [signingKey] = keys;
  if (!signingKey) throw new Error('at least one cookie key is required');

  /** The device id of a valid cookie, or undefined (none, malformed, or signed with no configured key). */
  const read = (ctx: Context): string | undefined => {
    const value = ctx.cookies.get(DEVICE_COOKIE);
    if (!value || value.length > 200) return undefined;
    const [id, signature] = value.split('.');
    if (!id || !signature || !ID_SHAPE.test(id)) return undefined;
    const given = Buffer.from(signature, 'base64url');
    return keys.some((k) => {
      const expected = mac(k, id);
      return given.length === expected.length && timingSafeEqual(given, expected);
    })
      ? id
      : undefined;
  };

  return {
    read,
    /** The browser's device id; a new one (and its cookie) when it has none that is valid. */
    ensure(ctx: Context, maxAgeDays: number): { id: string; issued: boolean } {
      const existing = read(ctx);
      if (existing) return { id: existing, issued: false };
      const id = randomBytes(32).toString('base64url');
      // an https issuer behind a proxy that is not trusted still gets a Secure cookie: the browser speaks https
      if (opts.secure) ctx.cookies.secure = true;
      ctx.cookies.set(DEVICE_COOKIE, `${id}.${mac(signingKey, id).toString('base64url')}`, {
        httpOnly: true,
        sameSite: 'lax',
        secure: opts.secure,
        path: '/',
        maxAge: Math.min(maxAgeDays, 400) * 86_400_000,
        overwrite: true,
      });
      return { id, issued: true };
    },
  };
}

export type DeviceCookie = ReturnType<typeof createDeviceCookie>;
