import { describe, expect, it } from '@jest/globals';
import { networkOf } from './network.js';

const defaults = { ipv4Prefix: 24, ipv6Prefix: 48 };

describe('issue #16: the network of a client address', () => {
  it.each([
    ['203.0.113.7', '203.0.113.0/24'],
    ['127.1.2.3', '127.1.2.0/24'],
    ['::ffff:127.0.0.2', '127.0.0.0/24'],
    ['2001:db8:1234:5678::1', '2001:db8:1234::/48'],
    ['not an address', 'unknown'],
    ['', 'unknown'],
  ])('%s → %s', (ip, network) => {
    expect(networkOf(ip, defaults)).toBe(network);
  });

  it('follows the configured prefixes', () => {
    expect(networkOf('203.0.113.7', { ipv4Prefix: 16, ipv6Prefix: 64 })).toBe('203.0.0.0/16');
    expect(networkOf('2001:db8:1234:5678::1', { ipv4Prefix: 16, ipv6Prefix: 64 })).toBe('2001:db8:1234:5678::/64');
  });
});
