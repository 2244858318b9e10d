import { randomUUID } from 'node:crypto';
import type { Db } from './db.js';

/**
 * Issue #16: the devices (by the SHA-256 of their cookie id) and networks (by prefix) an account has
 * signed in from, after a sign-in that met every demanded step. Reads and writes on the sign-in path are
 * one query each (issue #6: test/signin-cost.int.test.ts counts them).
 */
/** How many devices and networks an account keeps (the most recently seen). */
export const MAX_DEVICES = 50;
export const MAX_NETWORKS = 100;

export interface KnownDevice {
  id: string;
  description: string;
  lastNetwork: string;
  firstSeenAt: Date;
  lastSeenAt: Date;
  /** this browser (its device cookie's digest was given to list()) */
  current?: boolean;
}

interface DeviceRow {
  id: string;
  description: string;
  last_network: string;
  first_seen_at: Date;
  last_seen_at: Date;
  device_digest?: string;
}

const toDevice = (r: DeviceRow): KnownDevice => ({ id: r.id, description: r.description, lastNetwork: r.last_network, firstSeenAt: new Date(r.first_seen_at), lastSeenAt: new Date(r.last_seen_at) });

export function createKnownDevicesRepo(db: Db) {
  return {
    /** Whether the account knows this device (by digest; none: not known) and this network, in one query. */
    async known(accountId: string, deviceDigest: string | undefined, network: string): Promise<{ device: boolean; network: boolean }> {
      const result = await db.raw(
        `select exists(select 1 from known_devices where account_id = ? and device_digest = ?) as device,
                exists(select 1 from known_networks where account_id = ? and network = ?) as network`,
        [accountId, deviceDigest ?? '', accountId, network],
      );
      const row = (result.rows as Array<{ device: boolean; network: boolean }>)[0];
      return { device: Boolean(deviceDigest) && row?.device === true, network: row?.network === true };
    },
    /**
     * Records (or refreshes) the device and the network after a sign-in that met every demanded step, in
     * one query. An account keeps its MAX_DEVICES most recently seen devices and MAX_NETWORKS networks
     * (the statements of one query share a snapshot, so the row written now is never the one dropped):
     * the lists cannot grow without bound, and one dropped is simply new again.
     */
    async remember(entry: { accountId: string; deviceDigest: string; description: string; network: string; at: number }): Promise<void> {
      const at = new Date(entry.at * 1000);
      const { accountId } = entry;
      await db.raw(
        `with device as (
           insert into known_devices (id, account_id, device_digest, description, last_network, first_seen_at, last_seen_at)
           values (?, ?, ?, ?, ?, ?, ?)
           on conflict (account_id, device_digest) do update
             set description = excluded.description, last_network = excluded.last_network, last_seen_at = excluded.last_seen_at
           returning 1
         ), network as (
           insert into known_networks (account_id, network, first_seen_at, last_seen_at) values (?, ?, ?, ?)
           on conflict (account_id, network) do update set last_seen_at = excluded.last_seen_at
           returning 1
         ), old_devices as (
           delete from known_devices where id in (select id from known_devices where account_id = ? order by last_seen_at desc offset ${MAX_DEVICES})
           returning 1
         )
         delete from known_networks where account_id = ? and network in (select network from known_networks where account_id = ? order by last_seen_at desc offset ${MAX_NETWORKS})`,
        [randomUUID(), accountId, entry.deviceDigest, entry.description.slice(0, 200), entry.network, at, at, accountId, entry.network, at, at, accountId, accountId, accountId],
      );
    },
    /** The account's devices, most recently seen first; `currentDigest` marks this browser's. */
    async list(accountId: string, currentDigest?: string): Promise<KnownDevice[]> {
      const rows = (await db('known_devices').where({ account_id: accountId }).orderBy('last_seen_at', 'desc').select('id', 'description', 'last_network', 'first_seen_at', 'last_seen_at', 'device_digest')) as DeviceRow[];
      // the digest never leaves this function
      return rows.map((r) => ({ ...toDevice(r), ...(currentDigest ? { current: r.device_digest === currentDigest } : {}) }));
    },
    /** Forgets one device: its next sign-in is a new-device sign-in. Returns what was forgotten. */
    async forget(accountId: string, id: string): Promise<KnownDevice | undefined> {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
      const [row] = (await db('known_devices').where({ account_id: accountId, id }).delete().returning(['id', 'description', 'last_network', 'first_seen_at', 'last_seen_at'])) as DeviceRow[];
      return row ? toDevice(row) : undefined;
    },
    /** Forgets every device and network of the account: its next sign-in from anywhere is new. */
    async forgetAll(accountId: string): Promise<{ devices: number; networks: number }> {
      const devices = await db('known_devices').where({ account_id: accountId }).delete();
      const networks = await db('known_networks').where({ account_id: accountId }).delete();
      return { devices, networks };
    },
  };
}

export type KnownDevicesRepo = ReturnType<typeof createKnownDevicesRepo>;
