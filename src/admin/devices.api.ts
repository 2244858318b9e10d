import { z } from 'zod';
import type { Audit } from '../audit/audit.js';
import type { KnownDevice, KnownDevicesRepo } from '../store/known-devices.repo.js';
import { AdminError, type AdminService } from './admin-service.js';
import type { ApiRoute } from './api.routes.js';

/**
 * Issue #16 in the admin API: a user's known devices (risk signal newDevice), forget one, or forget
 * every device and network. Forgetting only takes trust away: the next sign-in from there asks for a
 * second factor. Audited like the admin UI's buttons (admin.device.forget, admin.devices.forget_all).
 */
const deviceOutput = z.object({
  id: z.string(),
  description: z.string().describe('browser and OS, from the User-Agent ("Firefox 140 on Linux")'),
  last_network: z.string().describe('the network prefix it last signed in from, e.g. 203.0.113.0/24'),
  first_seen_at: z.string(),
  last_seen_at: z.string(),
});
const deviceListOutput = z.object({ items: z.array(deviceOutput) });
const forgetAllOutput = z.object({ devices: z.number().int(), networks: z.number().int() });

const deviceJson = (d: KnownDevice) => ({ id: d.id, description: d.description, last_network: d.lastNetwork, first_seen_at: d.firstSeenAt.toISOString(), last_seen_at: d.lastSeenAt.toISOString() });

export function deviceApiRoutes(deps: { devices: KnownDevicesRepo; admin: Pick<AdminService, 'getUser'>; audit: Audit }): ApiRoute[] {
  return [
    {
      method: 'get',
      path: '/users/{userId}/devices',
      operationId: 'listDevices',
      summary: "The user's known devices (signed in from, after a sign-in that met every demanded step), most recently seen first",
      tag: 'sessions',
      responses: { 200: { description: 'The devices', schema: deviceListOutput } },
      async handle(ctx, { params }) {
        const user = await deps.admin.getUser(params.userId!);
        ctx.body = { items: (await deps.devices.list(user.id)).map(deviceJson) };
      },
    },
    {
      method: 'delete',
      path: '/users/{userId}/devices/{deviceId}',
      operationId: 'forgetDevice',
      summary: 'Forget one device: its next sign-in is a new-device sign-in',
      tag: 'sessions',
      responses: { 200: { description: 'The forgotten device', schema: deviceOutput } },
      async handle(ctx, { params, actor }) {
        const user = await deps.admin.getUser(params.userId!);
        const forgotten = await deps.devices.forget(user.id, params.deviceId!);
        if (!forgotten) throw new AdminError(404, 'device not found');
        await deps.audit.record({ type: 'admin.device.forget', outcome: 'success', actor: actor.actor, subject: user.id, clientId: actor.clientId, details: { deviceId: forgotten.id, device: forgotten.description, network: forgotten.lastNetwork } }, ctx);
        ctx.body = deviceJson(forgotten);
      },
    },
    {
      method: 'delete',
      path: '/users/{userId}/devices',
      operationId: 'forgetAllDevices',
      summary: 'Forget every device and network of the user: the next sign-in from anywhere asks for a second factor',
      tag: 'sessions',
      responses: { 200: { description: 'How many devices and networks were forgotten', schema: forgetAllOutput } },
      async handle(ctx, { params, actor }) {
        const user = await deps.admin.getUser(params.userId!);
        const forgotten = await deps.devices.forgetAll(user.id);
        await deps.audit.record({ type: 'admin.devices.forget_all', outcome: 'success', actor: actor.actor, subject: user.id, clientId: actor.clientId, details: forgotten }, ctx);
        ctx.body = forgotten;
      },
    },
  ];
}
