import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Audit } from '../audit/audit.js';
import { deviceDigest, type DeviceCookie } from '../risk/device-cookie.js';
import type { KnownDevicesRepo } from '../store/known-devices.repo.js';
import type { AccountSessions } from '../store/redis/account-sessions.js';

/**
 * Issue #16: "Your devices" on /account: the devices the account signed in from (browser and OS, first
 * and last seen, network), "Forget this device" (its next sign-in is a new-device sign-in, asked for a
 * second factor), and "Sign out everywhere" (every session and refresh token of the account, this one
 * too). Neither needs a fresh step-up: both only take trust away. Both are CSRF-protected and audited.
 */
export interface AccountDevicesDeps {
  devices: KnownDevicesRepo;
  deviceCookie: DeviceCookie;
  sessions: AccountSessions;
  audit: Audit;
  /** the signed-in account (the account page's own session), or undefined */
  signedIn(ctx: Context): Promise<{ account: { id: string; email: string }; sessionUid: string } | undefined>;
  /** through /auth and back to `returnTo` */
  signIn(ctx: Context, returnTo: string): void;
  page(ctx: Context, view: string, context: Record<string, unknown>): void;
  problem(ctx: Context, status: number, title: string, message: string): void;
  /** the body parser and CSRF check of the account forms */
  post: Middleware[];
  clientId: string;
}

const NOTICES: Record<string, string> = {
  forgotten: 'Forgotten. Signing in from that device asks for your second step again.',
};

const when = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export function mountAccountDevices(router: Router, deps: AccountDevicesDeps): void {
  router.get('/account/devices', async (ctx) => {
    const user = await deps.signedIn(ctx);
    if (!user) return deps.signIn(ctx, '/account/devices');
    const current = deps.deviceCookie.read(ctx);
    const devices = await deps.devices.list(user.account.id, current ? deviceDigest(current) : undefined);
    deps.page(ctx, 'account-devices.njk', {
      title: 'Your devices',
      account: user.account,
      devices: devices.map((d) => ({ id: d.id, description: d.description, network: d.lastNetwork, firstSeen: when(d.firstSeenAt), lastSeen: when(d.lastSeenAt), current: d.current })),
      notice: typeof ctx.query.notice === 'string' ? NOTICES[ctx.query.notice] : undefined,
      clientId: deps.clientId,
    });
  });

  router.post('/account/devices/:id/forget', ...deps.post, async (ctx) => {
    const user = await deps.signedIn(ctx);
    if (!user) return deps.signIn(ctx, '/account/devices');
    // only this account's own device: another account's id finds nothing
    const forgotten = await deps.devices.forget(user.account.id, String(ctx.params.id ?? ''));
    if (!forgotten) return deps.problem(ctx, 404, 'Not found', 'That device is not in your list (it may have been forgotten already).');
    await deps.audit.record({ type: 'device.forget', outcome: 'success', subject: user.account.id, actor: user.account.id, details: { deviceId: forgotten.id, device: forgotten.description, network: forgotten.lastNetwork } }, ctx);
    ctx.status = 303;
    ctx.redirect('/account/devices?notice=forgotten');
  });

  router.post('/account/sessions/revoke', ...deps.post, async (ctx) => {
    const user = await deps.signedIn(ctx);
    if (!user) return deps.signIn(ctx, '/account/devices');
    // every session of the account, this one included, and every refresh token
    const revoked = await deps.sessions.revokeAccountSessions(user.account.id);
    await deps.audit.record({ type: 'sessions.sign_out_everywhere', outcome: 'success', subject: user.account.id, actor: user.account.id, details: { sessionsEnded: revoked.sessions, grantsRevoked: revoked.grants } }, ctx);
    deps.page(ctx, 'logged-out.njk', { title: 'Signed out everywhere', everywhere: true });
  });
}
