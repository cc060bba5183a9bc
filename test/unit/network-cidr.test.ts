// Addresses and prefixes of both families: parsing refuses what docker refuses, IPv6 text is RFC
// 5952's canonical form, and overlap/containment hold at the edges of a prefix.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { contains, formatCidr, formatIp, nthAddress, overlaps, parseCidr, parseIp, size } from '../../src/network/cidr.ts';

const ip = (s: string) => {
  const v = parseIp(s);
  assert.ok(v, `parseIp(${s})`);
  return v;
};
const cidr = (s: string) => {
  const v = parseCidr(s);
  assert.ok(v, `parseCidr(${s})`);
  return v;
};

test('IPv4 addresses parse and format; bad ones are refused', () => {
  assert.deepEqual(parseIp('172.17.0.1'), { family: 4, value: 0xac110001n });
  assert.equal(formatIp(ip('0.0.0.0')), '0.0.0.0');
  assert.equal(formatIp(ip('255.255.255.255')), '255.255.255.255');
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.4 ', 'a.b.c.d', '1..2.3', '-1.2.3.4']) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

test('IPv6 addresses parse and format canonically (RFC 5952)', () => {
  const cases: [string, string][] = [
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8::0001', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group stays
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run is compressed
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // on a tie, the first
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['fd00::10.0.0.1', 'fd00::a00:1'],
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
  ];
  for (const [input, want] of cases) assert.equal(formatIp(ip(input)), want, input);
  for (const bad of [':', ':::', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::1', 'fe80::1%eth0', '1:2:3:4:5:6:7', ':1::', '::1.2.3']) {
    assert.equal(parseIp(bad), undefined, bad);
  }
  assert.equal(parseIp('1:2:3:4:5:6:7::')?.value, 0x00010002000300040005000600070000n);
});

test('prefixes: network address, written address, size, nth address', () => {
  const c = cidr('172.18.5.1/16');
  assert.equal(formatCidr(c), '172.18.0.0/16');
  assert.equal(formatCidr(c, true), '172.18.5.1/16');
  assert.equal(size(c), 65536n);
  assert.equal(formatIp(nthAddress(c, 1n)), '172.18.0.1');
  assert.throws(() => nthAddress(c, 65536n), RangeError);
  assert.equal(size(cidr('fd00::/64')), 1n << 64n);
  assert.equal(formatCidr(cidr('FD00:0:0:1::5/48')), 'fd00::/48');
  assert.equal(formatCidr(cidr('0.0.0.0/0')), '0.0.0.0/0');
  // Go's net.ParseCIDR reads the length with dtoi, which takes leading zeros (dockerd accepts 10.1.0.0/016)
  assert.equal(formatCidr(cidr('10.1.0.0/016')), '10.1.0.0/16');
  for (const bad of ['172.18.0.0', '172.18.0.0/33', '172.18.0.0/', '/16', 'fd00::/129', '172.18.0.0/16/1', '1.2.3.4/+16', '1.2.3.4/0016']) {
    assert.equal(parseCidr(bad), undefined, bad);
  }
});

test('containment and overlap at the edges, across families', () => {
  const c = cidr('10.1.2.0/30');
  assert.ok(contains(c, ip('10.1.2.0')));
  assert.ok(contains(c, ip('10.1.2.3')));
  assert.ok(!contains(c, ip('10.1.2.4')));
  assert.ok(!contains(c, ip('10.1.1.255')));
  assert.ok(!contains(cidr('::/0'), ip('10.1.2.1')), 'an IPv4 address is not in an IPv6 prefix');
  assert.ok(overlaps(cidr('172.17.0.0/16'), cidr('172.17.255.0/24')));
  assert.ok(overlaps(cidr('172.17.255.0/24'), cidr('172.17.0.0/16')));
  assert.ok(!overlaps(cidr('172.17.0.0/16'), cidr('172.18.0.0/16')));
  assert.ok(overlaps(cidr('0.0.0.0/0'), cidr('192.168.0.0/20')));
  assert.ok(!overlaps(cidr('192.168.0.0/20'), cidr('192.168.16.0/20')));
  assert.ok(overlaps(cidr('fd00::/64'), cidr('fd00::8/126')));
  assert.ok(!overlaps(cidr('fd00::/64'), cidr('fd00:0:0:1::/64')));
  assert.ok(!overlaps(cidr('0.0.0.0/0'), cidr('::/0')));
});
