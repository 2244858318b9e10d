import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Audit } from '../audit/audit.js';
import type { Account } from '../store/accounts.repo.js';
import type { KnownDevicesRepo } from '../store/known-devices.repo.js';
import { ADMIN_CLIENT_ID } from './internal-client.js';

/**
 * Issue #16: a user's known devices on the admin pages: the list (browser and OS, network, first and
 * last seen), forget one, or forget every device and network (a lost laptop, a suspected account
 * takeover: every next sign-in is then a new-device, new-network sign-in). Mounted inside the admin UI
 * router, behind its admin-session guard. Forgetting only takes trust away, so it needs no fresh
 * step-up; every change is audited with the admin as actor.
 */
export interface AdminDevicesDeps {
  devices: KnownDevicesRepo;
  audit: Audit;
  userParam(ctx: Context): Promise<Account | undefined>;
  page(ctx: Context, view: string, context: Record<string, unknown>, status?: number): void;
  problem(ctx: Context, status: number, title: string, message: string): void;
  post: Middleware[];
  actor(ctx: Context): string;
}

const NOTICES: Record<string, string> = {
  forgotten: 'Device forgotten: its next sign-in asks for a second step.',
  all_forgotten: 'Every device and network forgotten: the next sign-in from anywhere asks for a second step.',
};

const when = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export function mountAdminDevices(router: Router, deps: AdminDevicesDeps): void {
  const notFound = (ctx: Context) => deps.problem(ctx, 404, 'Not found', 'There is no such user.');

  router.get('/admin/users/:id/devices', async (ctx) => {
    const account = await deps.userParam(ctx);
    if (!account) return notFound(ctx);
    const devices = await deps.devices.list(account.id);
    deps.page(ctx, 'admin/user-devices.njk', {
      title: `Devices of ${account.email}`,
      user: account,
      devices: devices.map((d) => ({ id: d.id, description: d.description, network: d.lastNetwork, firstSeen: when(d.firstSeenAt), lastSeen: when(d.lastSeenAt) })),
      notice: typeof ctx.query.notice === 'string' ? NOTICES[ctx.query.notice] : undefined,
    });
  });

  router.post('/admin/users/:id/devices/:did/forget', ...deps.post, async (ctx) => {
    const account = await deps.userParam(ctx);
    if (!account) return notFound(ctx);
    const forgotten = await deps.devices.forget(account.id, String(ctx.params.did ?? ''));
    if (!forgotten) return deps.problem(ctx, 404, 'Not found', 'That device is not known for this user (it may have been forgotten already).');
    await deps.audit.record({ type: 'admin.device.forget', outcome: 'success', actor: deps.actor(ctx), subject: account.id, clientId: ADMIN_CLIENT_ID, details: { deviceId: forgotten.id, device: forgotten.description, network: forgotten.lastNetwork } }, ctx);
    ctx.status = 303;
    ctx.redirect(`/admin/users/${account.id}/devices?notice=forgotten`);
  });

  router.post('/admin/users/:id/devices/forget', ...deps.post, async (ctx) => {
    const account = await deps.userParam(ctx);
    if (!account) return notFound(ctx);
    const forgotten = await deps.devices.forgetAll(account.id);
    await deps.audit.record({ type: 'admin.devices.forget_all', outcome: 'success', actor: deps.actor(ctx), subject: account.id, clientId: ADMIN_CLIENT_ID, details: forgotten }, ctx);
    ctx.status = 303;
    ctx.redirect(`/admin/users/${account.id}/devices?notice=all_forgotten`);
  });
}
