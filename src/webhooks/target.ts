import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * SSRF guard for the webhook target (issue #17). The URL comes from the operator, but a name that
 * resolves to an internal address (the cloud metadata service at 169.254.169.254, a database on
 * 10.0.0.5, the host's own loopback) would let whoever controls the DNS of that name make stepup post
 * to it. So:
 * - only `https:` in production (env.ts), no credentials in the URL;
 * - only public unicast addresses, unless WEBHOOK_ALLOW_PRIVATE=true; IPv4-mapped IPv6 is judged as the
 *   IPv4 address it maps, and every special range ipaddr.js knows (private, loopback, link-local,
 *   unique-local, carrier-grade NAT, multicast, reserved, 6to4/Teredo tunnels…) is refused;
 * - checked at delivery time, inside the connection's own DNS lookup (`guardedLookup`), so the address
 *   checked is the address connected to: a name that resolved to a public address when it was
 *   configured and to a private one now (DNS rebinding) is refused;
 * - redirects are never followed (delivery.ts), and every request has a timeout.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'unicast';
}

export class TargetRefused extends Error {}

/** Checks the URL itself (scheme, credentials, a literal IP host). */
export function urlProblem(url: URL, opts: { production: boolean; allowPrivate: boolean }): string | undefined {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'only http(s) targets';
  if (opts.production && url.protocol !== 'https:') return 'only https targets in production';
  if (url.username || url.password) return 'no credentials in the URL (authenticate the webhook by its signature)';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (ipaddr.isValid(host) && !opts.allowPrivate && !isPublicAddress(host)) return `${host} is not a public address (set WEBHOOK_ALLOW_PRIVATE=true to allow it)`;
  return undefined;
}

/** A DNS lookup for the connection that refuses a name resolving to any non-public address. */
export function guardedLookup(opts: { allowPrivate: boolean }): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const refused = opts.allowPrivate ? undefined : addresses.find((a) => !isPublicAddress(a.address));
      if (refused) return callback(new TargetRefused(`${hostname} resolves to ${refused.address}, not a public address (set WEBHOOK_ALLOW_PRIVATE=true to allow it)`), '', 0);
      if (addresses.length === 0) return callback(new TargetRefused(`${hostname} has no address`), '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}
