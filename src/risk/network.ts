import ipaddr from 'ipaddr.js';

/**
 * Issue #16 newNetwork: the network a client address belongs to, as a prefix (IPv4 /24 and IPv6 /48 by
 * default, the policy's `risk.newNetwork`). An IPv4-mapped IPv6 address (`::ffff:203.0.113.7`, what a
 * dual-stack socket reports) is its IPv4 address. Only the prefix is stored, never the address.
 * The address is Koa's ctx.ip, which follows TRUST_PROXY: a client's own X-Forwarded-For changes nothing.
 */
export function networkOf(ip: string | undefined, prefixes: { ipv4Prefix: number; ipv6Prefix: number }): string {
  if (!ip || !ipaddr.isValid(ip)) return 'unknown';
  const address = ipaddr.process(ip);
  const bits = address.kind() === 'ipv4' ? prefixes.ipv4Prefix : prefixes.ipv6Prefix;
  const network = address.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${bits}`) : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${bits}`);
  return `${network.toString()}/${bits}`;
}
