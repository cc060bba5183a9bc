// run/create's network and port flags as docker 20.10's CLI sends them, the PORTS column of ps and
// the output of `port`. Expected values are what docker 20.10.24's CLI (go-connections/nat v0.4.0,
// formatter.DisplayablePorts, runPort) produces for the same input.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { UsageError, parseArgs } from '../../src/cli/args.ts';
import { CREATE_FLAGS, createRequest } from '../../src/cli/berth/run-options.ts';
import { parsePortSpec, publishedPorts } from '../../src/cli/berth/nat.ts';
import { displayablePorts } from '../../src/cli/berth/ps-ports.ts';
import { portOutput } from '../../src/cli/berth/port.ts';

const body = (...argv: string[]): Record<string, unknown> & { HostConfig: Record<string, unknown> } =>
  createRequest(parseArgs([...argv, 'busybox'], CREATE_FLAGS), { detach: true }).body;

const refused = (argv: string[], message: string): void => {
  assert.throws(() => body(...argv), (e: unknown) => e instanceof UsageError && e.message === message);
};

describe('-p/--publish: docker\'s port specs into PortBindings and ExposedPorts', () => {
  test('HOSTPORT:CPORT, IP:HOSTPORT:CPORT, IP::CPORT, CPORT, protocols', () => {
    const b = body('-p', '8080:80', '-p', '127.0.0.1:8443:443/tcp', '-p', '127.0.0.1::53/udp', '-p', '9000', '-p', '3868:3868/SCTP');
    assert.deepEqual(b.HostConfig.PortBindings, {
      '3868/sctp': [{ HostIp: '', HostPort: '3868' }],
      '443/tcp': [{ HostIp: '127.0.0.1', HostPort: '8443' }],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }],
      '80/tcp': [{ HostIp: '', HostPort: '8080' }],
      '9000/tcp': [{ HostIp: '', HostPort: '' }],
    });
    assert.deepEqual(b.ExposedPorts, { '3868/sctp': {}, '443/tcp': {}, '53/udp': {}, '80/tcp': {}, '9000/tcp': {} });
    assert.equal(b.HostConfig.PublishAllPorts, false);
  });
  test('one container port published twice keeps both bindings, in order', () => {
    const b = body('-p', '127.0.0.1:8080:80', '-p', '[::1]:8080:80');
    assert.deepEqual(b.HostConfig.PortBindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }, { HostIp: '::1', HostPort: '8080' }] });
  });
  test('ranges: one binding per port; a host range for one container port is kept as the range to pick from', () => {
    assert.deepEqual(publishedPorts(['8080-8081:80-81'], []).bindings, {
      '80/tcp': [{ HostIp: '', HostPort: '8080' }], '81/tcp': [{ HostIp: '', HostPort: '8081' }],
    });
    assert.deepEqual(publishedPorts(['8000-8010:80'], []).bindings, { '80/tcp': [{ HostIp: '', HostPort: '8000-8010' }] });
    assert.deepEqual(publishedPorts(['7000-7001'], []).bindings, { '7000/tcp': [{ HostIp: '', HostPort: '' }], '7001/tcp': [{ HostIp: '', HostPort: '' }] });
  });
  test('IPv6 host addresses in brackets; the long form target=,published=,protocol=', () => {
    assert.deepEqual(parsePortSpec('[::1]:8080:80'), [{ port: '80/tcp', binding: { HostIp: '::1', HostPort: '8080' } }]);
    assert.deepEqual(parsePortSpec('[::]::80/udp'), [{ port: '80/udp', binding: { HostIp: '::', HostPort: '' } }]);
    assert.deepEqual(publishedPorts(['target=80,published=8080,protocol=udp'], []).bindings, { '80/udp': [{ HostIp: '', HostPort: '8080' }] });
  });
  test('bad specs are refused with docker\'s messages (exit 125 through UsageError)', () => {
    refused(['-p', '8080:x'], 'Invalid containerPort: x');
    refused(['-p', 'x:80'], 'Invalid hostPort: x');
    refused(['-p', '70000'], 'Invalid containerPort: 70000');
    refused(['-p', '8080-8082:80-81'], 'Invalid ranges specified for container and host Ports: 80-81 and 8080-8082');
    refused(['-p', '81-80'], 'Invalid containerPort: 81-80');
    refused(['-p', '80/icmp'], 'Invalid proto: icmp');
    refused(['-p', '1.2.3:80:80'], 'Invalid ip address: 1.2.3');
    refused(['-p', '::1:8080:80'], 'Invalid ip address ::1: address ::1:: too many colons in address');
    refused(['-p', '8080:'], 'No port specified: 8080:<empty>');
    refused(['-p', 'target=80,published'], 'invalid publish opts format (should be name=value but got \'published\')');
  });
});

describe('--expose, -P, --network and its options', () => {
  test('--expose adds ports and ranges to ExposedPorts only', () => {
    const b = body('--expose', '7000-7002/udp', '--expose', '80', '-p', '8080:80');
    assert.deepEqual(b.ExposedPorts, { '7000/udp': {}, '7001/udp': {}, '7002/udp': {}, '80/tcp': {} });
    assert.deepEqual(b.HostConfig.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }] });
    refused(['--expose', '80:80'], 'invalid port format for --expose: 80:80');
    refused(['--expose', '8o'], 'invalid range format for --expose: 8o, error: strconv.ParseUint: parsing "8o": invalid syntax');
  });
  test('-P sets PublishAllPorts; no port flag leaves ExposedPorts out and PortBindings empty', () => {
    const b = body('-P');
    assert.equal(b.HostConfig.PublishAllPorts, true);
    assert.deepEqual(b.HostConfig.PortBindings, {});
    assert.equal('ExposedPorts' in b, false);
  });
  test('no --network: NetworkMode and NetworkingConfig are left to the daemon (its default, the bridge)', () => {
    const b = body();
    assert.equal('NetworkMode' in b.HostConfig, false);
    assert.equal('NetworkingConfig' in b, false);
  });
  test('--network NAME alone sends the mode only; --ip/--ip6/--network-alias make its endpoint settings', () => {
    assert.equal(body('--net', 'appnet').HostConfig.NetworkMode, 'appnet');
    assert.equal('NetworkingConfig' in body('--network', 'appnet'), false);
    const b = body('--network', 'appnet', '--ip', '172.30.0.9', '--ip6', 'fd00::9', '--network-alias', 'web', '--network-alias', 'www');
    assert.deepEqual(b.NetworkingConfig, {
      EndpointsConfig: { appnet: { Aliases: ['web', 'www'], IPAMConfig: { IPv4Address: '172.30.0.9', IPv6Address: 'fd00::9' } } },
    });
    assert.deepEqual(body('--network', 'name=appnet,alias=db,ip=172.30.0.7').NetworkingConfig, {
      EndpointsConfig: { appnet: { Aliases: ['db'], IPAMConfig: { IPv4Address: '172.30.0.7' } } },
    });
  });
  test('--ip on the bridge is sent for the daemon to judge; docker\'s own CLI checks are made here', () => {
    assert.deepEqual(body('--network', 'bridge', '--ip', '172.17.0.9').NetworkingConfig, { EndpointsConfig: { bridge: { IPAMConfig: { IPv4Address: '172.17.0.9' } } } });
    refused(['--network', 'bridge', '--network-alias', 'x'], 'network-scoped aliases are only supported for user-defined networks');
    refused(['--network', 'a', '--network', 'host'], 'conflicting options: cannot attach both user-defined and non-user-defined network-modes');
    refused(['--network', 'a', '--network', 'a'], 'network "a" is specified multiple times');
    refused(['--network', 'name=a,alias=x', '--network-alias', 'y'], 'conflicting options: cannot specify both --network-alias and per-network alias');
    refused(['--network', 'name=a,color=red'], 'invalid argument "name=a,color=red" for "--network" flag: invalid field key color');
  });
  test('--mac-address goes to Config.MacAddress (API 1.41) and is checked as net.ParseMAC does', () => {
    assert.equal(body('--mac-address', '92:d0:c6:0a:29:33').MacAddress, '92:d0:c6:0a:29:33');
    refused(['--mac-address', '92:d0:c6:0a:29'], '92:d0:c6:0a:29 is not a valid mac address');
  });
  test('--link is refused, saying what to do instead', () => {
    assert.throws(() => body('--link', 'db:db'), /--link is not supported by berth: .*berth network create/);
  });
});

describe('ps PORTS column (docker\'s DisplayablePorts)', () => {
  test('a port published on IPv4 and IPv6 any-address', () => {
    assert.equal(displayablePorts([
      { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
    ]), '0.0.0.0:8080->80/tcp, :::8080->80/tcp');
  });
  test('same-number ports collapse into a range; other numbers are listed one by one after the groups', () => {
    assert.equal(displayablePorts([
      { IP: '0.0.0.0', PrivatePort: 81, PublicPort: 81, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 80, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 8081, PublicPort: 9081, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 8080, PublicPort: 9080, Type: 'tcp' },
    ]), '0.0.0.0:80-81->80-81/tcp, 0.0.0.0:9080->8080/tcp, 0.0.0.0:9081->8081/tcp');
  });
  test('exposed, unpublished ports: grouped per protocol; a gap closes a group, printed before the open ones', () => {
    assert.equal(displayablePorts([
      { PrivatePort: 80, Type: 'tcp' }, { PrivatePort: 53, Type: 'udp' }, { PrivatePort: 81, Type: 'tcp' }, { PrivatePort: 90, Type: 'tcp' },
    ]), '80-81/tcp, 53/udp, 90/tcp');
    assert.equal(displayablePorts([]), '');
  });
  test('a mix: published and exposed ports of one container', () => {
    assert.equal(displayablePorts([
      { PrivatePort: 443, Type: 'tcp' },
      { IP: '127.0.0.1', PrivatePort: 80, PublicPort: 49153, Type: 'tcp' },
    ]), '443/tcp, 127.0.0.1:49153->80/tcp');
  });
});

describe('berth port', () => {
  const ports = {
    '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }],
    '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
    '443/tcp': null,
  };
  test('every mapping, sorted by port then protocol', () => {
    assert.deepEqual(portOutput(ports, 'web'), { out: '53/udp -> 127.0.0.1:5353\n80/tcp -> 0.0.0.0:8080\n80/tcp -> :::8080\n' });
  });
  test('one port: its host addresses; tcp unless a protocol is given', () => {
    assert.deepEqual(portOutput(ports, 'web', '80'), { out: '0.0.0.0:8080\n:::8080\n' });
    assert.deepEqual(portOutput(ports, 'web', '53/udp'), { out: '127.0.0.1:5353\n' });
  });
  test('an unpublished or unknown port, and a spec that is no port, with docker\'s messages', () => {
    assert.deepEqual(portOutput(ports, 'web', '443'), { out: '', error: 'Error: No public port \'443/tcp\' published for web' });
    assert.deepEqual(portOutput(ports, 'web', '53'), { out: '', error: 'Error: No public port \'53/tcp\' published for web' });
    assert.deepEqual(portOutput(ports, 'web', 'http'), { out: '', error: 'strconv.ParseUint: parsing "http": invalid syntax' });
    assert.deepEqual(portOutput(ports, 'web', '80/'), { out: '', error: 'strconv.ParseUint: parsing "80/": invalid syntax' });
  });
});
