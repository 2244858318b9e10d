import { describe, expect, it } from '@jest/globals';
import type { Context } from 'koa';
import { createDeviceCookie, deviceDigest, DEVICE_COOKIE } from './device-cookie.js';

/** A Koa context with just a cookie jar. */
function fakeContext(initial?: string) {
  const jar = new Map<string, { value: string; opts: Record<string, unknown> }>();
  if (initial !== undefined) jar.set(DEVICE_COOKIE, { value: initial, opts: {} });
  const ctx = { cookies: { secure: false, get: (name: string) => jar.get(name)?.value, set: (name: string, value: string, opts: Record<string, unknown>) => void jar.set(name, { value, opts }) } };
  return { ctx: ctx as unknown as Context, jar };
}

describe('issue #16: the device cookie', () => {
  const cookie = createDeviceCookie(['k'.repeat(32)], { secure: true });

  it('issues a random signed id once, HttpOnly, SameSite=Lax, Secure on an https issuer, for at most 400 days', () => {
    const { ctx, jar } = fakeContext();
    const first = cookie.ensure(ctx, 500);
    expect(first.issued).toBe(true);
    expect(jar.get(DEVICE_COOKIE)?.opts).toMatchObject({ httpOnly: true, sameSite: 'lax', secure: true, path: '/', maxAge: 400 * 86_400_000 });
    expect(cookie.ensure(ctx, 400)).toEqual({ id: first.id, issued: false });
    expect(cookie.read(ctx)).toBe(first.id);
  });

  it('a cookie signed with another key, a tampered id or a malformed value is no device: a new one is issued', () => {
    const { ctx: signedElsewhere } = fakeContext();
    const other = createDeviceCookie(['o'.repeat(32)], { secure: false });
    other.ensure(signedElsewhere, 400);
    expect(cookie.read(signedElsewhere)).toBeUndefined();
    const { ctx: good, jar } = fakeContext();
    cookie.ensure(good, 400);
    const [id, sig] = jar.get(DEVICE_COOKIE)!.value.split('.');
    const tampered = `${id!.slice(0, -1)}${id!.endsWith('A') ? 'B' : 'A'}.${sig}`;
    expect(cookie.read(fakeContext(tampered).ctx)).toBeUndefined();
    expect(cookie.read(fakeContext('garbage').ctx)).toBeUndefined();
    expect(cookie.ensure(fakeContext(tampered).ctx, 400).issued).toBe(true);
  });

  it('any configured key verifies (rotation: the new key first, the old one still accepted)', () => {
    const { ctx } = fakeContext();
    const id = cookie.ensure(ctx, 400).id;
    const rotated = createDeviceCookie(['n'.repeat(32), 'k'.repeat(32)], { secure: true });
    expect(rotated.read(ctx)).toBe(id);
  });

  it('stores a digest, never the id', () => {
    expect(deviceDigest('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });
});
