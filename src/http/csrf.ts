import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';

/**
 * CSRF protection for every stepup form (SPEC/issue #2): a random per-browser value in an HttpOnly
 * cookie, and in each form an HMAC of it under the cookie keys. A cross-site page can neither read
 * the cookie nor compute the HMAC. Checked in constant time; any configured key verifies (rotation).
 */
export const CSRF_COOKIE = 'stepup.csrf';
export const CSRF_FIELD = '_csrf';

const mac = (key: string, value: string) => createHmac('sha256', key).update(`csrf:${value}`).digest();

export function createCsrf(keys: string[]) {
  const [signingKey] = keys;
  if (!signingKey) throw new Error('at least one cookie key is required');

  function browserValue(ctx: Context): string {
    let value = ctx.cookies.get(CSRF_COOKIE);
    if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) {
      value = randomBytes(32).toString('base64url');
      ctx.cookies.set(CSRF_COOKIE, value, { httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/', overwrite: true });
    }
    return value;
  }

  return {
    /** The token to put in a form's hidden `_csrf` field. */
    token(ctx: Context): string {
      return mac(signingKey, browserValue(ctx)).toString('base64url');
    },
    valid(ctx: Context, submitted: unknown): boolean {
      const value = ctx.cookies.get(CSRF_COOKIE);
      if (!value || typeof submitted !== 'string' || submitted.length > 100) return false;
      const given = Buffer.from(submitted, 'base64url');
      return keys.some((k) => {
        const expected = mac(k, value);
        return given.length === expected.length && timingSafeEqual(given, expected);
      });
    },
  };
}

export type Csrf = ReturnType<typeof createCsrf>;

/** Rejects a POST whose form lacks a valid token, before the handler runs. */
export function requireCsrf(csrf: Csrf, onFailure: (ctx: Context) => void | Promise<void>) {
  return async (ctx: Context, next: Next) => {
    const body = (ctx.request as unknown as { body?: Record<string, unknown> }).body;
    if (!csrf.valid(ctx, body?.[CSRF_FIELD])) {
      await onFailure(ctx);
      return;
    }
    await next();
  };
}
