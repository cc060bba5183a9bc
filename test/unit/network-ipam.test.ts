// IPAM as docker's default driver behaves: subnets chosen from docker's default pools around what
// is taken, docker's messages for bad requests, addresses unique under concurrency, handed out in
// order without reusing a just-released one, and leases kept in files across a restart.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { NetworkError } from '../../src/network/errors.ts';
import { Ipam } from '../../src/network/ipam.ts';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 't10b-ipam-'));
  roots.push(d);
  return d;
}

function rejectsWith(p: Promise<unknown>, kind: string, message: string | RegExp) {
  return assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof NetworkError, `a NetworkError, got ${String(e)}`);
    assert.equal(e.kind, kind);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

test('default pools: 172.17/16 first, then the next that overlaps neither avoid nor another pool', async () => {
  const ipam = await Ipam.open(tmp());
  const a = await ipam.createPools('a', {}, { avoid: [], defaultV4: true });
  assert.deepEqual(a, { v4: { subnet: '172.17.0.0/16', gateway: '172.17.0.1' } });
  // a host route inside 172.18/16 and one covering 172.20/16 and 172.21/16 are avoided
  const b = await ipam.createPools('b', { v4: {} }, { avoid: ['172.18.3.0/24', '172.20.0.0/15', '10.0.0.0/8'] });
  assert.equal(b.v4?.subnet, '172.19.0.0/16');
  const b2 = await ipam.createPools('b2', { v4: {} }, { avoid: ['172.18.3.0/24', '172.20.0.0/15'] });
  assert.equal(b2.v4?.subnet, '172.22.0.0/16', 'the pools of a and b are skipped too');
  const avoidAll172 = ['172.16.0.0/12'];
  const c = await ipam.createPools('c', {}, { avoid: avoidAll172, defaultV4: true });
  assert.deepEqual(c.v4, { subnet: '192.168.0.0/20', gateway: '192.168.0.1' });
  const d = await ipam.createPools('d', {}, { avoid: [...avoidAll172, '192.168.16.0/24'], defaultV4: true });
  assert.equal(d.v4?.subnet, '192.168.32.0/20');
  // without defaultV4 nor a v4 request there is no IPv4 pool
  assert.deepEqual(await ipam.createPools('e', {}, { avoid: [] }), {});
  await rejectsWith(ipam.createPools('f', {}, { avoid: ['172.16.0.0/12', '192.168.0.0/16'], defaultV4: true }), 'system',
    'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
  assert.deepEqual(ipam.networks().sort(), ['a', 'b', 'b2', 'c', 'd', 'e']);
});

test('explicit pools: normalised, and bad or overlapping ones refused with docker\'s messages', async () => {
  const ipam = await Ipam.open(tmp());
  const p = await ipam.createPools('n1', { v4: { subnet: '10.20.30.40/16', gateway: '10.20.0.254', ipRange: '10.20.5.7/24' } }, { avoid: ['10.0.0.0/8'] });
  assert.deepEqual(p.v4, { subnet: '10.20.0.0/16', gateway: '10.20.0.254', ipRange: '10.20.5.0/24' }, 'avoid applies only to the default choice');
  await rejectsWith(ipam.createPools('n2', { v4: { subnet: '10.20.128.0/17' } }, { avoid: [] }), 'conflict', 'Pool overlaps with other one on this address space');
  await rejectsWith(ipam.createPools('n2', { v4: { subnet: '10.0.0.0/8' } }, { avoid: [] }), 'conflict', 'Pool overlaps with other one on this address space');
  await rejectsWith(ipam.createPools('n2', { v4: { subnet: '10.30.0.0/16', gateway: '10.31.0.1' } }, { avoid: [] }), 'invalid', 'no matching subnet for gateway 10.31.0.1');
  await rejectsWith(ipam.createPools('n2', { v4: { subnet: '10.30.0.0/16', ipRange: '10.31.0.0/24' } }, { avoid: [] }), 'invalid', 'no matching subnet for range 10.31.0.0/24');
  await rejectsWith(ipam.createPools('n2', { v4: { subnet: '10.30.0.0/16', ipRange: '10.0.0.0/8' } }, { avoid: [] }), 'invalid', 'no matching subnet for range 10.0.0.0/8');
  await rejectsWith(ipam.createPools('n2', { v4: { subnet: '10.30.0.0/16', gateway: '10.30.0.0' } }, { avoid: [] }), 'invalid', /Address already in use/);
  await rejectsWith(ipam.createPools('n2', { v4: { subnet: 'fd00::/64' } }, { avoid: [] }), 'invalid', 'invalid subnet fd00::/64: not an IPv4 prefix');
  await rejectsWith(ipam.createPools('n2', { v4: { subnet: '10.30.0.0' } }, { avoid: [] }), 'invalid', /invalid subnet 10.30.0.0/);
  await rejectsWith(ipam.createPools('n2', { v6: {} }, { avoid: [], defaultV4: true }), 'invalid', /requires a subnet/);
  await rejectsWith(ipam.createPools('../x', {}, { avoid: [], defaultV4: true }), 'invalid', /invalid network id/);
  await rejectsWith(ipam.createPools('n1', {}, { avoid: [], defaultV4: true }), 'conflict', /already has address pools/);
  assert.deepEqual(ipam.networks(), ['n1'], 'nothing half-made by the refused requests');
});

test('requested addresses: outside the subnet or range, taken, reserved; idempotent per owner', async () => {
  const ipam = await Ipam.open(tmp());
  await ipam.createPools('net', { v4: { subnet: '10.9.0.0/24', ipRange: '10.9.0.128/25' } }, { avoid: [], name: 'mynet' });
  const l = await ipam.allocate('net', 'c1', { v4: '10.9.0.200' });
  // the gateway, not given, is the range's first address, as docker's default IPAM hands it out first
  assert.deepEqual(l, { v4: { address: '10.9.0.200', prefix: 24, gateway: '10.9.0.128' } });
  assert.deepEqual(await ipam.allocate('net', 'c1', { v4: '10.9.0.200' }), l, 'the same owner asking again gets its lease');
  assert.deepEqual(await ipam.allocate('net', 'c1'), l, 'allocate is idempotent per owner');
  await rejectsWith(ipam.allocate('net', 'c2', { v4: '10.9.0.200' }), 'conflict', 'Address already in use');
  await rejectsWith(ipam.allocate('net', 'c2', { v4: '10.9.0.255' }), 'conflict', 'Address already in use');
  await rejectsWith(ipam.allocate('net', 'c2', { v4: '10.9.1.5' }), 'invalid', "Invalid address 10.9.1.5: It does not belong to any of this network's subnets");
  await rejectsWith(ipam.allocate('net', 'c2', { v4: '10.9.0.5' }), 'invalid', /Requested address is out of range/);
  await rejectsWith(ipam.allocate('net', 'c2', { v6: 'fd00::5' }), 'invalid', /does not belong to any of this network's subnets/);
  await rejectsWith(ipam.allocate('nope', 'c2'), 'notfound', /network nope has no address pools/);
  // the range's first address is the gateway's: the next one is handed out
  assert.equal((await ipam.allocate('net', 'c3')).v4?.address, '10.9.0.129');
  assert.equal(ipam.leases('net').size, 2);
});

test('a /30 holds one container: the next gets docker\'s exhaustion message', async () => {
  const ipam = await Ipam.open(tmp());
  assert.deepEqual((await ipam.createPools('id30', { v4: { subnet: '10.1.1.0/30' } }, { avoid: [], name: 'tiny' })).v4, { subnet: '10.1.1.0/30', gateway: '10.1.1.1' });
  assert.equal((await ipam.allocate('id30', 'c1')).v4?.address, '10.1.1.2');
  await rejectsWith(ipam.allocate('id30', 'c2'), 'system', "no available IPv4 addresses on this network's address pools: tiny (id30)");
  await ipam.release('id30', 'c1');
  assert.equal((await ipam.allocate('id30', 'c2')).v4?.address, '10.1.1.2', 'freed, it is handed out again');
});

test('release: addresses go on in order and a released one is reused only after wrapping around', async () => {
  const ipam = await Ipam.open(tmp());
  await ipam.createPools('w', { v4: { subnet: '10.2.0.0/29' } }, { avoid: [] }); // hosts .2-.6 after the gateway
  const addr = async (o: string) => (await ipam.allocate('w', o)).v4!.address;
  assert.equal(await addr('a'), '10.2.0.2');
  assert.equal(await addr('b'), '10.2.0.3');
  await ipam.release('w', 'a');
  assert.equal(await addr('c'), '10.2.0.4', 'not the just-released .2');
  await ipam.release('w', 'b');
  assert.equal(await addr('d'), '10.2.0.5');
  assert.equal(await addr('e'), '10.2.0.6');
  assert.equal(await addr('f'), '10.2.0.2', 'wrapped around: the broadcast .7, network .0 and gateway .1 skipped');
  assert.equal(await addr('g'), '10.2.0.3');
  await ipam.release('w', 'nobody'); // a no-op
  assert.deepEqual([...ipam.leases('w').keys()].sort(), ['c', 'd', 'e', 'f', 'g']);
});

test('1000 concurrent allocations get 1000 different addresses, all on disk', async () => {
  const dir = tmp();
  const ipam = await Ipam.open(dir);
  await ipam.createPools('big', { v4: { subnet: '10.3.0.0/22' } }, { avoid: [] }); // 1021 hosts
  const leases = await Promise.all(Array.from({ length: 1000 }, (_, i) => ipam.allocate('big', `owner${i}`)));
  const addrs = new Set(leases.map((l) => l.v4!.address));
  assert.equal(addrs.size, 1000);
  assert.ok(!addrs.has('10.3.0.0') && !addrs.has('10.3.0.1') && !addrs.has('10.3.3.255'));
  const again = await Ipam.open(dir);
  assert.equal(again.leases('big').size, 1000);
  // and releases concurrent with allocations
  await Promise.all([
    ...Array.from({ length: 500 }, (_, i) => ipam.release('big', `owner${i}`)),
    ...Array.from({ length: 500 }, (_, i) => ipam.allocate('big', `late${i}`)),
  ]);
  const all = [...ipam.leases('big').values()].map((l) => l.v4!.address);
  assert.equal(all.length, 1000);
  assert.equal(new Set(all).size, 1000);
  assert.deepEqual([...(await Ipam.open(dir)).leases('big').entries()].sort(), [...ipam.leases('big').entries()].sort());
});

test('restart: a fresh open keeps pools, leases and the allocation order; corrupt files are reported, left alone', async () => {
  const dir = tmp();
  const first = await Ipam.open(dir);
  await first.createPools('r', { v4: { subnet: '10.4.0.0/24' }, v6: { subnet: 'fd00:4::/64' } }, { avoid: [] });
  const l1 = await first.allocate('r', 'c1');
  assert.deepEqual(l1, { v4: { address: '10.4.0.2', prefix: 24, gateway: '10.4.0.1' }, v6: { address: 'fd00:4::2', prefix: 64, gateway: 'fd00:4::1' } });
  await first.allocate('r', 'c2');
  await first.release('r', 'c2');
  writeFileSync(join(dir, 'broken.json'), '{"version": 1, "id": "bro');
  writeFileSync(join(dir, 'foreign.json'), JSON.stringify({ hello: 'world' }));
  writeFileSync(join(dir, 'notes.txt'), 'not ours');
  writeFileSync(join(dir, 'r.json.tmp-999'), '{"cut": '); // a crash between write and rename
  const warned: string[] = [];
  const second = await Ipam.open(dir, { warn: (m) => warned.push(m) });
  assert.deepEqual(second.networks(), ['r']);
  assert.deepEqual(second.pools('r'), { v4: { subnet: '10.4.0.0/24', gateway: '10.4.0.1' }, v6: { subnet: 'fd00:4::/64', gateway: 'fd00:4::1' } });
  assert.deepEqual(second.leases('r'), new Map([['c1', l1]]));
  assert.equal((await second.allocate('r', 'c3')).v4?.address, '10.4.0.4', 'continues after the last handed out (.3), not at the released .3');
  assert.equal(second.problems.length, 2);
  assert.match(second.problems.join('\n'), new RegExp(`${join(dir, 'broken.json')}: .*JSON`));
  assert.match(second.problems.join('\n'), new RegExp(`${join(dir, 'foreign.json')}: not a berth IPAM file`));
  assert.equal(warned.length, 2);
  assert.deepEqual(readdirSync(dir).sort(), ['broken.json', 'foreign.json', 'notes.txt', 'r.json'], 'nothing deleted, no tmp file left');
  await second.removePools('r');
  assert.deepEqual(readdirSync(dir).sort(), ['broken.json', 'foreign.json', 'notes.txt']);
  assert.equal(second.pools('r'), undefined);
  assert.equal((await Ipam.open(dir)).pools('r'), undefined);
});

test('IPv6: the network address and the gateway are never handed out; a wanted v6 address is honoured', async () => {
  const ipam = await Ipam.open(tmp());
  await ipam.createPools('six', { v4: { subnet: '10.6.0.0/24' }, v6: { subnet: 'FD00:6::/120', gateway: 'fd00:6::ff' } }, { avoid: [] });
  assert.deepEqual(ipam.pools('six')?.v6, { subnet: 'fd00:6::/120', gateway: 'fd00:6::ff' });
  assert.deepEqual((await ipam.allocate('six', 'a')).v6, { address: 'fd00:6::1', prefix: 120, gateway: 'fd00:6::ff' });
  assert.equal((await ipam.allocate('six', 'b', { v6: 'fd00:6:0:0::10' })).v6?.address, 'fd00:6::10');
  await rejectsWith(ipam.allocate('six', 'c', { v6: 'fd00:6::ff' }), 'conflict', 'Address already in use');
  await rejectsWith(ipam.allocate('six', 'c', { v6: 'fd00:6::' }), 'conflict', 'Address already in use');
  await rejectsWith(ipam.allocate('six', 'c', { v6: 'fd00:7::1' }), 'invalid', /Invalid address fd00:7::1/);
  // a failure on v6 gives back the v4 address it had taken
  assert.equal(ipam.leases('six').size, 2);
  assert.deepEqual(await ipam.allocate('six', 'c'), { v4: { address: '10.6.0.4', prefix: 24, gateway: '10.6.0.1' }, v6: { address: 'fd00:6::2', prefix: 120, gateway: 'fd00:6::ff' } });
  // the last v6 address is not a broadcast address: usable
  assert.equal((await ipam.allocate('six', 'd', { v6: 'fd00:6::ff' }).catch((e) => e.message)), 'Address already in use');
  assert.equal((await ipam.allocate('six', 'd')).v6?.address, 'fd00:6::3', 'a wanted address does not move the sequence');
  // a /64 allocates without walking it
  await ipam.createPools('wide', { v6: { subnet: 'fd00:64::/64' } }, { avoid: [] });
  assert.deepEqual(await ipam.allocate('wide', 'x'), { v6: { address: 'fd00:64::2', prefix: 64, gateway: 'fd00:64::1' } });
});

test('a write that fails undoes the allocation and says why', async () => {
  const dir = join(tmp(), 'ipam');
  const ipam = await Ipam.open(dir);
  await ipam.createPools('ro', { v4: { subnet: '10.7.0.0/24' } }, { avoid: [] });
  // the directory replaced by a file: every write fails (ENOTDIR), for root too
  const saved = readFileSync(join(dir, 'ro.json'));
  rmSync(dir, { recursive: true });
  writeFileSync(dir, '');
  try {
    await rejectsWith(ipam.allocate('ro', 'c1'), 'system', /cannot record the address lease of c1 on network ro: .*ENOTDIR/);
    assert.equal(ipam.leases('ro').size, 0);
  } finally {
    rmSync(dir);
    mkdirSync(dir);
    writeFileSync(join(dir, 'ro.json'), saved);
  }
  assert.equal((await ipam.allocate('ro', 'c1')).v4?.address, '10.7.0.2');
  assert.match(readFileSync(join(dir, 'ro.json'), 'utf8'), /10\.7\.0\.2/);
});
