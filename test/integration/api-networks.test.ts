// berthd's network endpoints as real clients use them: Debian's docker CLI 20.10 (/usr/bin/docker)
// and the Docker SDK for Python (/usr/bin/python3), plus raw HTTP for statuses and bodies. The
// records are what these tests see; whether a bridge exists on the host is the data plane's
// business and is not assumed here. Every network a test makes is removed by it.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BerthdHarness } from '../fixtures/berthd.ts';
import { runCommand, show } from '../fixtures/busybox.ts';

/** the host's IPv4 routes but the default one, as `ip` lists them */
async function hostRoutes4(): Promise<string[]> {
  const r = await runCommand('ip', ['-j', '-4', 'route', 'show']);
  return (JSON.parse(r.stdout) as { dst: string }[]).map((x) => x.dst).filter((d) => d !== 'default').map((d) => (d.includes('/') ? d : `${d}/32`));
}

/** docker's 172.17-31 /16 pools that overlap none of `routes` (a route's /16 in that range takes it) nor `taken`, in order */
function freeDefaultPools(routes: string[], taken: string): string[] {
  const used = new Set([taken, ...routes].map((r) => /^172\.(\d+)\./.exec(r)?.[1]).filter(Boolean));
  return Array.from({ length: 15 }, (_, i) => String(17 + i)).filter((n) => !used.has(n)).map((n) => `172.${n}.0.0/16`);
}

const SKIP = process.getuid?.() !== 0 ? 'needs root' : false;
const bd = new BerthdHarness({ prefix: 't10c' });
const { docker, dockerOk } = bd;

interface Net {
  Name: string; Id: string; Created: string; Scope: string; Driver: string; EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: Record<string, unknown>[] };
  Internal: boolean; Attachable: boolean; Ingress: boolean; ConfigFrom: { Network: string }; ConfigOnly: boolean;
  Containers: Record<string, unknown>; Options: Record<string, string>; Labels: Record<string, string>;
}

async function dockerFails(args: string[], stderr: string | RegExp): Promise<void> {
  const r = await docker(args);
  assert.equal(r.code, 1, show(r));
  if (typeof stderr === 'string') assert.equal(r.stderr, stderr);
  else assert.match(r.stderr, stderr);
}

async function inspectNet(ref: string): Promise<Net> {
  const [n] = JSON.parse(await dockerOk(['network', 'inspect', ref])) as Net[];
  return n!;
}

async function names(args: string[] = []): Promise<string[]> {
  return (await dockerOk(['network', 'ls', '--format', '{{.Name}}', ...args])).split('\n').filter(Boolean);
}

/** a create through the API: status and body */
async function apiCreate(body: unknown): Promise<{ status: number; body: any }> {
  const r = await bd.http('POST', '/v1.41/networks/create', typeof body === 'string' ? body : JSON.stringify(body));
  return { status: r.status, body: r.body ? JSON.parse(r.body) : undefined };
}

const recordFile = (id: string): string => join(bd.data, 'network', 'networks', `${id}.json`);

describe('berthd: network endpoints (docker CLI, Python SDK, raw API)', { skip: SKIP, timeout: 300_000 }, () => {
  before(() => bd.setup());
  after(() => bd.teardown());

  it('docker network ls: the built-in bridge, host and none in docker\'s columns; inspect bridge is docker\'s default bridge with the daemon\'s bridge', async () => {
    const out = await dockerOk(['network', 'ls']);
    const lines = out.trimEnd().split('\n');
    assert.match(lines[0]!, /^NETWORK ID +NAME +DRIVER +SCOPE$/);
    const rows = lines.slice(1).map((l) => l.split(/ +/));
    assert.deepEqual(rows.map((r) => [r[1], r[2], r[3]]), [['bridge', 'bridge', 'local'], ['host', 'host', 'local'], ['none', 'null', 'local']]);
    for (const r of rows) assert.match(r[0]!, /^[0-9a-f]{12}$/);

    const b = await inspectNet('bridge');
    assert.match(b.Id, /^[0-9a-f]{64}$/);
    assert.ok(b.Id.startsWith(rows[0]![0]!));
    assert.equal(b.Driver, 'bridge');
    assert.equal(b.Scope, 'local');
    // the first of docker's default pools that no route of the host had (other daemons' bridges may hold 172.17)
    const sub16 = /^172\.(\d+)\.0\.0\/16$/.exec(String(b.IPAM.Config[0]?.Subnet ?? ''));
    assert.ok(sub16 && Number(sub16[1]) >= 17 && Number(sub16[1]) <= 31, JSON.stringify(b.IPAM));
    assert.deepEqual(b.IPAM, { Driver: 'default', Options: null, Config: [{ Subnet: `172.${sub16[1]}.0.0/16`, Gateway: `172.${sub16[1]}.0.1` }] });
    assert.equal(b.Options['com.docker.network.bridge.name'], bd.bridge);
    assert.equal(b.Options['com.docker.network.bridge.default_bridge'], 'true');
    assert.deepEqual(b.Containers, {});
    assert.ok(!Number.isNaN(Date.parse(b.Created)), b.Created);
    const h = await inspectNet('host');
    assert.deepEqual([h.Driver, h.IPAM.Config, h.Options, h.Labels], ['host', [], {}, {}]);
    assert.equal((await inspectNet('none')).Driver, 'null');
    // docker's field order, as the SDKs and compose read it
    const raw = await bd.http('GET', '/v1.41/networks/none');
    assert.deepEqual(Object.keys(JSON.parse(raw.body)), ['Name', 'Id', 'Created', 'Scope', 'Driver', 'EnableIPv6', 'IPAM', 'Internal', 'Attachable', 'Ingress',
      'ConfigFrom', 'ConfigOnly', 'Containers', 'Options', 'Labels']);
  });

  it('network create --subnet --gateway --label: inspect shows the IPAM config and labels; the record is on disk and survives a restart', async () => {
    const id = (await dockerOk(['network', 'create', '--subnet', '10.240.0.0/24', '--gateway', '10.240.0.254', '--label', 'a=b', 't10c-n1'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    try {
      const n = await inspectNet('t10c-n1');
      assert.equal(n.Id, id);
      assert.equal(n.Name, 't10c-n1');
      assert.deepEqual([n.Driver, n.Scope, n.EnableIPv6, n.Internal, n.Attachable, n.Ingress, n.ConfigOnly], ['bridge', 'local', false, false, false, false, false]);
      assert.deepEqual(n.IPAM.Config, [{ Subnet: '10.240.0.0/24', Gateway: '10.240.0.254' }]);
      assert.equal(n.IPAM.Driver, 'default');
      assert.deepEqual(n.Labels, { a: 'b' });
      assert.deepEqual(n.ConfigFrom, { Network: '' });
      assert.deepEqual(n.Containers, {});
      assert.equal((await dockerOk(['network', 'inspect', '-f', '{{.Name}} {{range .IPAM.Config}}{{.Subnet}}{{end}}', id.slice(0, 10)])).trim(), 't10c-n1 10.240.0.0/24');
      const rec = JSON.parse(readFileSync(recordFile(id), 'utf8'));
      assert.deepEqual([rec.name, rec.bridge], ['t10c-n1', `br-${id.slice(0, 12)}`]);

      const before = await dockerOk(['network', 'ls', '--no-trunc', '--format', '{{.ID}} {{.Name}}']);
      await bd.restart();
      assert.equal(await dockerOk(['network', 'ls', '--no-trunc', '--format', '{{.ID}} {{.Name}}']), before, 'the same networks, with the same ids, after a restart');
      assert.deepEqual((await inspectNet('t10c-n1')).IPAM.Config, [{ Subnet: '10.240.0.0/24', Gateway: '10.240.0.254' }]);
    } finally {
      await dockerOk(['network', 'rm', 't10c-n1']);
    }
    assert.ok(!existsSync(recordFile(id)), 'the record is gone');
    await dockerFails(['network', 'inspect', 't10c-n1'], 'Error: No such network: t10c-n1\n');
  });

  it('a subnet not given is the first of docker\'s default pools no other network has', async () => {
    // the default bridge has its pool, and the host's routes (other daemons' bridges) theirs: the next free ones in docker's order
    const [first, second] = freeDefaultPools(await hostRoutes4(), String((await inspectNet('bridge')).IPAM.Config[0]!.Subnet));
    const a = (await dockerOk(['network', 'create', 't10c-pa'])).trim();
    const b = (await dockerOk(['network', 'create', 't10c-pb'])).trim();
    try {
      const cfgA = (await inspectNet(a)).IPAM.Config;
      const cfgB = (await inspectNet(b)).IPAM.Config;
      assert.deepEqual(cfgA, [{ Subnet: first, Gateway: first!.replace('0/16', '1') }]);
      assert.deepEqual(cfgB, [{ Subnet: second, Gateway: second!.replace('0/16', '1') }]);
    } finally {
      await dockerOk(['network', 'rm', a, b]);
    }
  });

  it('refused as dockerd refuses: overlapping subnet (403), name conflict (409), predefined names (403), nothing made', async () => {
    await dockerOk(['network', 'create', '--subnet', '10.241.0.0/24', 't10c-c1']);
    try {
      const count = (await names()).length;
      await dockerFails(['network', 'create', '--subnet', '10.241.0.0/16', 't10c-c2'], 'Error response from daemon: Pool overlaps with other one on this address space\n');
      await dockerFails(['network', 'create', '--subnet', '10.241.0.128/25', 't10c-c2'], 'Error response from daemon: Pool overlaps with other one on this address space\n');
      // a part of the default bridge's subnet
      const inBridge = String((await inspectNet('bridge')).IPAM.Config[0]!.Subnet).replace('.0.0/16', '.5.0/24');
      await dockerFails(['network', 'create', '--subnet', inBridge, 't10c-c2'], 'Error response from daemon: Pool overlaps with other one on this address space\n');
      const overlap = await apiCreate({ Name: 't10c-c2', CheckDuplicate: true, IPAM: { Config: [{ Subnet: '10.241.0.0/20' }] } });
      assert.equal(overlap.status, 403);
      await dockerFails(['network', 'create', 't10c-c1'], 'Error response from daemon: network with name t10c-c1 already exists\n');
      const dup = await apiCreate({ Name: 't10c-c1', CheckDuplicate: true });
      assert.deepEqual(dup, { status: 409, body: { message: 'network with name t10c-c1 already exists' } });
      for (const n of ['bridge', 'host', 'none', 'default']) {
        // the CLI trims the message, which ends with a space in dockerd's words
        await dockerFails(['network', 'create', n], `Error response from daemon: operation is not permitted on predefined ${n} network\n`);
      }
      assert.deepEqual(await apiCreate({ Name: 'host' }), { status: 403, body: { message: 'operation is not permitted on predefined host network ' } });
      await dockerFails(['network', 'rm', 'bridge'], 'Error response from daemon: bridge is a pre-defined network and cannot be removed\n');
      await dockerFails(['network', 'rm', 'none'], 'Error response from daemon: none is a pre-defined network and cannot be removed\n');
      assert.equal((await bd.http('DELETE', '/v1.41/networks/host')).status, 403);
      assert.equal((await names()).length, count, 'no network was made or removed');
    } finally {
      await dockerOk(['network', 'rm', 't10c-c1']);
    }
  });

  it('bad requests: docker\'s words and statuses, a malformed body names its JSON path', async () => {
    const cases: [unknown, number, string | RegExp][] = [
      [{ Name: 5 }, 400, 'malformed JSON request body: "Name": want a string, got a number'],
      [{ Name: 'x', IPAM: { Config: [{ Subnet: 7 }] } }, 400, 'malformed JSON request body: "IPAM.Config[0].Subnet": want a string, got a number'],
      [{ Name: 'x', Labels: { a: 1 } }, 400, 'malformed JSON request body: "Labels.a": want a string, got a number'],
      [{ Name: 'x', IPAM: { Config: {} } }, 400, 'malformed JSON request body: "IPAM.Config": want an array, got an object'],
      ['[1]', 400, 'malformed JSON request body: "(root)": want an object, got an array'],
      ['{"Name":', 400, 'malformed JSON request body: Unexpected end of JSON input'],
      [{ Name: '' }, 400, 'invalid name: '],
      [{ Name: 'x', IPAM: { Config: [{ Subnet: '10.1.0.0/33' }] } }, 400, 'Invalid subnet 10.1.0.0/33 : invalid CIDR address: 10.1.0.0/33'],
      [{ Name: 'x', IPAM: { Config: [{ Subnet: '10.1.0.0/16', Gateway: '10.2.0.1' }] } }, 400, 'failed to allocate gateway (10.2.0.1): Requested address is out of range'],
      [{ Name: 'x', IPAM: { Config: [{ Subnet: '10.1.0.0/16', Gateway: 'nope' }] } }, 400, 'invalid gateway address nope in Ipam configuration'],
      [{ Name: 'x', IPAM: { Config: [{ Subnet: '10.1.0.0/16', IPRange: '10.2.0.0/24' }] } }, 400, 'invalid ip range 10.2.0.0/24: not within subnet 10.1.0.0/16'],
      [{ Name: 'x', IPAM: { Config: [{ Subnet: '10.1.0.0/16' }, { Subnet: '10.3.0.0/16' }] } }, 403, "bridge driver doesn't support multiple subnets"],
      [{ Name: 'x', Driver: 't10c-nodriver' }, 404, 'plugin "t10c-nodriver" not found'],
      [{ Name: 'x', Driver: 'host' }, 403, 'only one instance of "host" network is allowed'],
      [{ Name: 'x', IPAM: { Driver: 't10c-noipam' } }, 404, 'plugin "t10c-noipam" not found'],
      [{ Name: 'x', EnableIPv6: true }, 404, 'could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network'],
      [{ Name: 'x', Options: { 'com.docker.network.driver.mtu': 'big' } }, 400, 'failed to parse com.docker.network.driver.mtu value: big (strconv.Atoi: parsing "big": invalid syntax)'],
      [{ Name: 'x', Options: { 'com.docker.network.bridge.name': bd.bridge } }, 403, new RegExp(`^cannot create network [0-9a-f]{64} \\(${bd.bridge}\\): conflicts with network [0-9a-f]{64} \\(${bd.bridge}\\): networks have same bridge name$`)],
      [{ Name: 'x', Options: { 'com.docker.network.bridge.name': 'a-name-too-long-for-linux' } }, 400, 'invalid bridge name "a-name-too-long-for-linux" (com.docker.network.bridge.name): longer than 15 bytes'],
    ];
    const count = (await names()).length;
    for (const [body, status, message] of cases) {
      const r = await apiCreate(body);
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      if (typeof message === 'string') assert.equal(r.body.message, message, JSON.stringify(body));
      else assert.match(r.body.message, message);
    }
    assert.equal((await names()).length, count, 'no network was made');
    await dockerFails(['network', 'create', '-d', 't10c-nodriver', 't10c-x'], 'Error response from daemon: plugin "t10c-nodriver" not found\n');
    await dockerFails(['network', 'rm', 't10c-nosuch'], 'Error: No such network: t10c-nosuch\n');
    const connect = await bd.http('POST', '/v1.41/networks/t10c-nosuch/connect', JSON.stringify({ Container: 'x' }));
    assert.deepEqual([connect.status, JSON.parse(connect.body).message], [404, 'network t10c-nosuch not found']);
    const badConnect = await bd.http('POST', '/v1.41/networks/bridge/connect', JSON.stringify({ Container: 'x', EndpointConfig: { Aliases: 'web' } }));
    assert.deepEqual([badConnect.status, JSON.parse(badConnect.body).message], [400, 'malformed JSON request body: "EndpointConfig.Aliases": want an array of strings, got a string']);
    const verbose = await bd.http('GET', '/v1.41/networks/bridge?verbose=maybe');
    assert.deepEqual([verbose.status, JSON.parse(verbose.body).message], [400, 'invalid value for verbose: maybe']);
    assert.equal((await bd.http('GET', '/v1.41/networks/bridge?scope=swarm')).status, 404);
    assert.equal((await bd.http('GET', '/v1.41/networks/bridge?scope=local&verbose=true')).status, 200);
  });

  it('--ipv6 with a subnet, --internal, --attachable, --ip-range, -o bridge name: inspect shows them', async () => {
    const id = (await dockerOk(['network', 'create', '--ipv6', '--subnet', 'fd00:10c::/64', '--subnet', '10.242.0.0/16', '--ip-range', '10.242.1.0/24',
      '--internal', '--attachable', '-o', 'com.docker.network.bridge.name=t10c-br', 't10c-v6'])).trim();
    try {
      const n = await inspectNet(id);
      assert.deepEqual([n.EnableIPv6, n.Internal, n.Attachable], [true, true, true]);
      assert.deepEqual(n.IPAM.Config, [{ Subnet: '10.242.0.0/16', IPRange: '10.242.1.0/24', Gateway: '10.242.1.0' }, { Subnet: 'fd00:10c::/64', Gateway: 'fd00:10c::1' }]);
      assert.deepEqual(n.Options, { 'com.docker.network.bridge.name': 't10c-br' });
      assert.equal(JSON.parse(readFileSync(recordFile(id), 'utf8')).bridge, 't10c-br');
    } finally {
      await dockerOk(['network', 'rm', id]);
    }
  });

  it('network ls --filter (name, id, driver, label, type, dangling, scope) and --format; an unknown filter is docker\'s error', async () => {
    const a = (await dockerOk(['network', 'create', '--label', 't10c=one', '--label', 'k', 't10c-fa'])).trim();
    const b = (await dockerOk(['network', 'create', '--label', 't10c=two', 't10c-fb'])).trim();
    try {
      assert.deepEqual(await names(['--filter', 'name=t10c-f']), ['t10c-fa', 't10c-fb']);
      assert.deepEqual(await names(['--filter', 'name=t10c-fa']), ['t10c-fa']);
      assert.deepEqual(await names(['--filter', `id=${b.slice(0, 8)}`]), ['t10c-fb']);
      assert.deepEqual(await names(['--filter', 'label=t10c=one']), ['t10c-fa']);
      assert.deepEqual(await names(['--filter', 'label=t10c']), ['t10c-fa', 't10c-fb']);
      assert.deepEqual(await names(['--filter', 'label=t10c', '--filter', 'label=k']), ['t10c-fa']);
      assert.deepEqual(await names(['--filter', 'driver=null']), ['none']);
      assert.deepEqual(await names(['--filter', 'type=builtin']), ['bridge', 'host', 'none']);
      assert.deepEqual(await names(['--filter', 'type=custom', '--filter', 'name=t10c-f']), ['t10c-fa', 't10c-fb']);
      assert.deepEqual(await names(['--filter', 'dangling=true', '--filter', 'name=t10c-f']), ['t10c-fa', 't10c-fb']);
      assert.deepEqual(await names(['--filter', 'dangling=false']), ['bridge', 'host', 'none']);
      assert.deepEqual(await names(['--filter', 'scope=swarm']), []);
      assert.deepEqual(await names(['--filter', 'scope=local', '--filter', 'name=t10c-fb']), ['t10c-fb']);
      assert.equal(await dockerOk(['network', 'ls', '-q', '--filter', 'name=t10c-fa']), `${a.slice(0, 12)}\n`);
      assert.equal(await dockerOk(['network', 'ls', '--format', '{{.Name}}:{{.Driver}}:{{.Scope}}:{{.Labels}}', '--filter', 'name=t10c-fb']), 't10c-fb:bridge:local:t10c=two\n');
      await dockerFails(['network', 'ls', '--filter', 'colour=red'], "Error response from daemon: Invalid filter 'colour'\n");
      await dockerFails(['network', 'ls', '--filter', 'type=other'], "Error response from daemon: invalid filter: 'type'='other'\n");
      await dockerFails(['network', 'ls', '--filter', 'dangling=maybe'], 'Error response from daemon: invalid value for filter \'dangling\', must be "true" (or "1"), or "false" (or "0")\n');
    } finally {
      await dockerOk(['network', 'rm', a, b]);
    }
  });

  it('network prune -f removes unused user networks only (label and until filters); events tell create, destroy and prune', async () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    const keep = (await dockerOk(['network', 'create', '--label', 't10c-keep=1', 't10c-keep'])).trim();
    const gone = (await dockerOk(['network', 'create', 't10c-gone'])).trim();
    try {
      assert.equal(await dockerOk(['network', 'prune', '-f', '--filter', 'until=1h']), '', 'nothing older than an hour');
      assert.equal(await dockerOk(['network', 'prune', '-f', '--filter', 'label!=t10c-keep']), 'Deleted Networks:\nt10c-gone\n\n');
      assert.deepEqual(await names(['--filter', 'name=t10c-']), ['t10c-keep']);
      assert.deepEqual(await names(['--filter', 'type=builtin']), ['bridge', 'host', 'none']);
      await dockerFails(['network', 'prune', '-f', '--filter', 'name=x'], "Error response from daemon: Invalid filter 'name'\n");
      const py = await bd.python('import docker\nprint(docker.from_env().networks.prune(filters={"label": "t10c-keep=1"}))');
      assert.equal(py.stdout.trim(), "{'NetworksDeleted': ['t10c-keep']}", show(py));
      assert.equal(await dockerOk(['network', 'prune', '-f']), '');
    } finally {
      for (const id of [keep, gone]) await docker(['network', 'rm', id]);
    }
    const until = String(Math.ceil(Date.now() / 1000) + 1);
    const ev = await dockerOk(['events', '--since', since, '--until', until, '--filter', 'type=network', '--filter', `network=${keep}`, '--filter', `network=${gone}`,
      '--format', '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}} {{.Actor.Attributes.type}}']);
    assert.deepEqual(ev.split('\n').filter(Boolean), [`create ${keep} t10c-keep bridge`, `create ${gone} t10c-gone bridge`, `destroy ${gone} t10c-gone bridge`, `destroy ${keep} t10c-keep bridge`]);
    // a prune event has no actor, as dockerd's: one per prune of this test (and of none before it)
    const prunes = await dockerOk(['events', '--since', since, '--until', until, '--filter', 'type=network', '--filter', 'event=prune', '--format', '{{.Actor.ID}}|{{.Actor.Attributes.reclaimed}}']);
    assert.deepEqual(prunes.split('\n').filter(Boolean), ['|0', '|0', '|0', '|0']);
  });

  it('Python SDK: networks.create/list/get/remove; a duplicate name without check_duplicate is dockerd\'s warning, then an ambiguous name', async () => {
    const r = await bd.python(`import docker, json
c = docker.from_env()
n = c.networks.create('t10c-py', driver='bridge', labels={'x': 'y'}, ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet='10.243.0.0/16', gateway='10.243.0.1')]))
print(json.dumps([n.name, n.attrs['IPAM']['Config'], n.attrs['Labels']]))
print(json.dumps(sorted(x.name for x in c.networks.list(names=['t10c-py']))))
print(c.networks.get(n.id[:12]).name)
raw = c.api.create_network('t10c-py')
print(raw['Warning'])
try:
    c.networks.get('t10c-py')
except docker.errors.APIError as e:
    print(e.status_code, e.explanation)
c.networks.get(raw['Id']).remove()
n.remove()
try:
    c.networks.get('t10c-py')
except docker.errors.NotFound as e:
    print('gone:', e.explanation)
`);
    assert.equal(r.code, 0, show(r));
    const [made, listed, got, warning, ambiguous, gone] = r.stdout.trim().split('\n');
    assert.deepEqual(JSON.parse(made!), ['t10c-py', [{ Subnet: '10.243.0.0/16', Gateway: '10.243.0.1' }], { x: 'y' }]);
    assert.deepEqual(JSON.parse(listed!), ['t10c-py']);
    assert.equal(got, 't10c-py');
    assert.match(warning!, /^Network with name t10c-py \(id : [0-9a-f]{64}\) already exists$/);
    assert.equal(ambiguous, '400 2 matches found based on name: network t10c-py is ambiguous');
    assert.equal(gone, 'gone: network t10c-py not found');
  });
});
