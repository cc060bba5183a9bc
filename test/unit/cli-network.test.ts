// `berth network` as docker 20.10's CLI: the create request (consolidateIpam), ls's table and
// --format rows, the connect body. Expected values are docker 20.10.24's for the same input.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { parseArgs } from '../../src/cli/args.ts';
import { FlagValueError, PlainFailure } from '../../src/cli/berth/command.ts';
import {
  connectBody, createBody, goTimeString, networkConnectCommand, networkCreateCommand, networkTable, type NetworkResource,
} from '../../src/cli/berth/network.ts';

const create = (...argv: string[]): Record<string, unknown> => {
  const p = parseArgs(argv, networkCreateCommand.flags, false);
  return createBody(p.rest[0]!, p);
};
const ipam = (...argv: string[]): unknown => (create(...argv, 'net1').IPAM as { Config: unknown }).Config;
const refused = (argv: string[], message: string, kind: typeof PlainFailure | typeof FlagValueError = PlainFailure): void => {
  assert.throws(() => create(...argv, 'net1'), (e: unknown) => e instanceof kind && e.message === message);
};

describe('network create: the NetworkCreateRequest', () => {
  test('defaults: the bridge driver, default IPAM, no subnet (the daemon picks one)', () => {
    assert.deepEqual(create('net1'), {
      Name: 'net1', CheckDuplicate: true, Driver: 'bridge', Scope: '', EnableIPv6: false,
      IPAM: { Driver: 'default', Config: [], Options: {} },
      Internal: false, Attachable: false, Ingress: false, ConfigOnly: false, Options: {}, Labels: {},
    });
  });
  test('flags into their fields: driver, options, labels, internal, ipv6, attachable', () => {
    const b = create('-d', 'bridge', '-o', 'com.docker.network.bridge.name=br-t10d', '--label', 'a=1', '--label', 'b', '--internal', '--ipv6', '--attachable', 'net1');
    assert.equal(b.Driver, 'bridge');
    assert.deepEqual(b.Options, { 'com.docker.network.bridge.name': 'br-t10d' });
    assert.deepEqual(b.Labels, { a: '1', b: '' });
    assert.deepEqual([b.Internal, b.EnableIPv6, b.Attachable], [true, true, true]);
  });
  test('several subnets: each gateway, range and aux address goes with the subnet containing it, in any order', () => {
    assert.deepEqual(ipam(
      '--subnet', '172.30.0.0/16', '--subnet', 'fd00:10::/64',
      '--gateway', 'fd00:10::1', '--gateway', '172.30.0.1',
      '--ip-range', '172.30.5.0/24', '--aux-address', 'host1=172.30.0.5', '--aux-address', 'v6=fd00:10::5',
    ), [
      { Subnet: '172.30.0.0/16', IPRange: '172.30.5.0/24', Gateway: '172.30.0.1', AuxiliaryAddresses: { host1: '172.30.0.5' } },
      { Subnet: 'fd00:10::/64', Gateway: 'fd00:10::1', AuxiliaryAddresses: { v6: 'fd00:10::5' } },
    ]);
    // pflag's string slices: comma-separated values are several
    assert.deepEqual(ipam('--subnet', '10.1.0.0/24,10.2.0.0/24', '--gateway', '10.2.0.254'), [{ Subnet: '10.1.0.0/24' }, { Subnet: '10.2.0.0/24', Gateway: '10.2.0.254' }]);
  });
  test('docker\'s IPAM errors: plain failures (exit 1), before any daemon is reached', () => {
    refused(['--gateway', '10.0.0.1'], 'every ip-range or gateway must have a corresponding subnet');
    refused(['--subnet', '10.0.0.0/24', '--gateway', '10.1.0.1'], 'no matching subnet for gateway 10.1.0.1');
    refused(['--subnet', '10.0.0.0/24', '--ip-range', '10.9.0.0/28'], 'no matching subnet for range 10.9.0.0/28');
    refused(['--subnet', '10.0.0.0/24', '--aux-address', 'a=10.9.0.1'], 'no matching subnet for aux-address 10.9.0.1');
    refused(['--subnet', '10.0.0.0/16', '--subnet', '10.0.1.0/24'], 'multiple overlapping subnet configuration is not supported');
    refused(['--subnet', '10.0.0.0/24', '--subnet', '10.0.1.0/24', '--gateway', '10.0.0.1', '--gateway', '10.0.0.2'],
      'cannot configure multiple gateways (10.0.0.2, 10.0.0.1) for the same subnet (10.0.0.0/24)');
    refused(['--subnet', '10.0.0/24', '--gateway', '10.0.0.1'], 'invalid subnet: invalid CIDR address: 10.0.0/24');
    refused(['--subnet', '10.0.0.0/33', '--gateway', '10.0.0.1'], 'invalid subnet: invalid CIDR address: 10.0.0.0/33');
    refused(['--subnet', '10.0.0.0/24', '--gateway', 'gw'], 'no matching subnet for gateway gw');
    refused(['--label', ' =x'], 'invalid argument " =x" for "--label" flag: invalid label \' =x\': empty name', FlagValueError);
    refused(['--label', 'a b=x'], 'invalid argument "a b=x" for "--label" flag: label \'a b\' contains whitespaces', FlagValueError);
    // docker's whiteSpaces are a space and a tab: a key with a newline is taken as it is
    assert.deepEqual(create('--label', 'a\nb=x', 'net1').Labels, { 'a\nb': 'x' });
  });
});

const net = (name: string, id: string, extra: Partial<NetworkResource> = {}): NetworkResource => ({
  Name: name, Id: id, Created: '2024-05-01T10:00:00.500000000Z', Scope: 'local', Driver: 'bridge',
  EnableIPv6: false, Internal: false, Labels: {}, ...extra,
});

describe('network ls', () => {
  const ID = 'b1d2f8f3c0a94e7fb1d2f8f3c0a94e7fb1d2f8f3c0a94e7fb1d2f8f3c0a94e7f';
  const list = [
    net('net10', `a${ID.slice(1)}`, { Labels: { z: '1', a: '2' }, Internal: true }),
    net('none', `c${ID.slice(1)}`, { Driver: 'null' }),
    net('bridge', ID),
    net('net9', `d${ID.slice(1)}`, { EnableIPv6: true }),
  ];
  test('the table: NETWORK ID (12), NAME, DRIVER, SCOPE, sorted by name as sortorder.NaturalLess does', () => {
    assert.equal(networkTable(list, {}), [
      'NETWORK ID     NAME      DRIVER    SCOPE',
      'b1d2f8f3c0a9   bridge    bridge    local',
      'd1d2f8f3c0a9   net9      bridge    local',
      'a1d2f8f3c0a9   net10     bridge    local',
      'c1d2f8f3c0a9   none      null      local',
      '',
    ].join('\n'));
  });
  test('-q: the ids; --no-trunc: the whole ids', () => {
    assert.equal(networkTable(list.slice(2, 3), { quiet: true }), 'b1d2f8f3c0a9\n');
    assert.equal(networkTable(list.slice(2, 3), { quiet: true, noTrunc: true }), `${ID}\n`);
  });
  test('--format: the formatter\'s fields, json of a row, table with headers', () => {
    assert.equal(networkTable(list.slice(0, 1), { format: '{{.Name}} {{.IPv6}} {{.Internal}} {{.Labels}} {{.CreatedAt}}' }),
      'net10 false true a=2,z=1 2024-05-01 10:00:00.5 +0000 UTC\n');
    assert.equal(networkTable(list.slice(3), { format: 'json' }),
      '{"CreatedAt":"2024-05-01 10:00:00.5 +0000 UTC","Driver":"bridge","ID":"d1d2f8f3c0a9","IPv6":"true","Internal":"false","Labels":"","Name":"net9","Scope":"local"}\n');
    assert.equal(networkTable(list.slice(2, 3), { format: 'table {{.Name}}\t{{.IPv6}}' }), 'NAME      IPV6\nbridge    false\n');
    assert.equal(networkTable(list.slice(2, 3), { format: 'raw' }), 'network_id: b1d2f8f3c0a9\nname: bridge\ndriver: bridge\nscope: local\n\n');
  });
  test('CreatedAt is Go\'s time.Time.String', () => {
    assert.equal(goTimeString('2024-05-01T10:00:00Z'), '2024-05-01 10:00:00 +0000 UTC');
    assert.equal(goTimeString('2024-05-01T10:00:00.123456789Z'), '2024-05-01 10:00:00.123456789 +0000 UTC');
    assert.equal(goTimeString('2024-05-01T12:00:00.1+02:00'), '2024-05-01 12:00:00.1 +0200 +0200');
  });
});

describe('network connect', () => {
  const body = (...argv: string[]): Record<string, unknown> => connectBody('web', parseArgs(argv, networkConnectCommand.flags, false));
  test('--ip, --ip6 and --alias (repeated or comma-separated) into EndpointConfig', () => {
    assert.deepEqual(body('--ip', '172.30.0.9', '--ip6', 'fd00::9', '--alias', 'a,b', '--alias', 'c'), {
      Container: 'web',
      EndpointConfig: { IPAMConfig: { IPv4Address: '172.30.0.9', IPv6Address: 'fd00::9' }, Aliases: ['a', 'b', 'c'] },
    });
    assert.deepEqual(body(), { Container: 'web', EndpointConfig: { IPAMConfig: {}, Aliases: [] } });
  });
});
