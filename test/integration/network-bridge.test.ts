// Bridge networking through berthd, as Debian's docker CLI 20.10 drives it: the default bridge
// (addresses, /etc/hosts, containers reaching each other and the host), published ports answering
// from the host on 127.0.0.1, from another container and from a "remote host" (a network namespace
// this test makes, joined to the host by a veth pair), the sidecar on container:NAME, user networks
// (DNS by name and alias, isolation, --internal, IPv6), a daemon restart keeping ports and names,
// and 50 parallel runs each with an address of its own. Traffic goes only to loopback and to the
// namespaces, bridges and containers this test made; nothing of them stays.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';

import { BerthdHarness } from '../fixtures/berthd.ts';
import { freePort, httpGet } from '../fixtures/net.ts';
import { runCommand, show } from '../fixtures/busybox.ts';
import { waitFor } from '../fixtures/wait.ts';

const bd = new BerthdHarness({ prefix: 'h10n' });
const { docker, dockerOk, runDetached, inspect } = bd;
let IMG = '';

/** the test's "remote host": a namespace with a veth to the host (10.250.10.0/30) */
const REMOTE = 'h10n-remote';
const REMOTE_HOST_IP = '10.250.10.1';



const sh = async (cmd: string, args: string[]): Promise<string> => {
  const r = await runCommand(cmd, args);
  assert.equal(r.code, 0, show(r));
  return r.stdout;
};

/** busybox httpd serving `text` on port 80 */
const WEB = (text: string): string[] => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`];

describe('berthd: bridge networking', { timeout: 600_000 }, () => {
  before(async () => {
    await bd.setup();
    IMG = bd.image;
    await runCommand('ip', ['netns', 'del', REMOTE]);
    await sh('ip', ['netns', 'add', REMOTE]);
    await sh('ip', ['link', 'add', 'h10n-r0', 'type', 'veth', 'peer', 'name', 'h10n-r1', 'netns', REMOTE]);
    await sh('ip', ['addr', 'add', `${REMOTE_HOST_IP}/30`, 'dev', 'h10n-r0']);
    await sh('ip', ['link', 'set', 'h10n-r0', 'up']);
    await sh('ip', ['-n', REMOTE, 'addr', 'add', '10.250.10.2/30', 'dev', 'h10n-r1']);
    await sh('ip', ['-n', REMOTE, 'link', 'set', 'h10n-r1', 'up']);
    await sh('ip', ['-n', REMOTE, 'link', 'set', 'lo', 'up']);
    await sh('ip', ['-n', REMOTE, 'route', 'add', 'default', 'via', REMOTE_HOST_IP]);
  });

  after(() => bd.teardown(undefined, async () => {
    await runCommand('ip', ['link', 'del', 'h10n-r0']);
    await runCommand('ip', ['netns', 'del', REMOTE]);
  }));

  it('the default bridge: an address of its pool, /etc/hosts names it, containers reach each other and a server on the gateway', async () => {
    const a = await runDetached(['--name', 'h10n-a', IMG, 'sleep', '1000']);
    const ip = await inspect(a, '{{.NetworkSettings.IPAddress}}');
    const gw = await inspect(a, '{{.NetworkSettings.Gateway}}');
    const mac = await inspect(a, '{{.NetworkSettings.MacAddress}}');
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(await inspect(a, '{{.NetworkSettings.Networks.bridge.IPAddress}}'), ip);
    assert.equal(await inspect(a, '{{.HostConfig.NetworkMode}}'), 'default');
    assert.equal(mac, `02:42:${ip.split('.').map((n) => Number(n).toString(16).padStart(2, '0')).join(':')}`);
    const hosts = await dockerOk(['exec', a, 'cat', '/etc/hosts']);
    assert.match(hosts, new RegExp(`^${ip.replace(/\./g, '\\.')}\\t${a.slice(0, 12)}$`, 'm'));
    // the container's own view: eth0 with the address, the default route via the gateway
    const addr = await dockerOk(['exec', a, 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
    assert.match(addr, new RegExp(`inet ${ip.replace(/\./g, '\\.')}/16`));
    assert.match(await dockerOk(['exec', a, 'ip', 'route']), new RegExp(`default via ${gw.replace(/\./g, '\\.')} dev eth0`));
    // another container reaches it
    const ping = await docker(['run', '--rm', IMG, 'ping', '-c', '1', '-W', '3', ip]);
    assert.equal(ping.code, 0, show(ping));
    // a server of the host on the bridge's address
    const got: string[] = [];
    const server: Server = createServer((s) => s.setEncoding('utf8').on('data', (d: string) => got.push(d.trim())).on('end', () => s.end()));
    await new Promise<void>((r) => server.listen(0, gw, r));
    try {
      const port = (server.address() as AddressInfo).port;
      const nc = await docker(['run', '--rm', IMG, 'sh', '-c', `echo hello-h10n | nc -w 3 ${gw} ${port}`]);
      assert.equal(nc.code, 0, show(nc));
      await waitFor('the host server to read the line', async () => got.includes('hello-h10n'), 5000);
    } finally {
      server.close();
    }
    await dockerOk(['rm', '-f', a]);
  });

  it('published ports: busybox httpd answers on 127.0.0.1, from another container, from a remote host; docker port; a taken port refused', async () => {
    const hp = await freePort();
    const web = await runDetached(['--name', 'h10n-web', '-p', `${hp}:80`, IMG, ...WEB('hello-h10n-web')]);
    const gw = await inspect(web, '{{.NetworkSettings.Gateway}}');
    await waitFor('httpd to answer on 127.0.0.1', async () => (await httpGet(`http://127.0.0.1:${hp}/`).catch(() => '')).includes('hello-h10n-web'), 10_000);
    assert.equal(await inspect(web, '{{json .NetworkSettings.Ports}}'), JSON.stringify({ '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(hp) }, { HostIp: '::', HostPort: String(hp) }] }));
    // an IPv6 client of an IPv4-only container: the one case the kernel cannot NAT, proxied by berthd
    assert.match(await httpGet(`http://[::1]:${hp}/`), /hello-h10n-web/);
    assert.equal((await dockerOk(['port', web, '80'])).trim(), `0.0.0.0:${hp}\n:::${hp}`);
    assert.match(await dockerOk(['ps', '--filter', 'name=h10n-web', '--format', '{{.Ports}}']), new RegExp(`0\\.0\\.0\\.0:${hp}->80/tcp`));
    // another container, through the host's address on the bridge (hairpin)
    const fromCtr = await docker(['run', '--rm', IMG, 'sh', '-c', `timeout 5 wget -q -O - http://${gw}:${hp}/; exit $?`]);
    assert.equal(fromCtr.code, 0, show(fromCtr));
    assert.match(fromCtr.stdout, /hello-h10n-web/);
    // the remote host, to the host's address on its link
    const remote = await runCommand('ip', ['netns', 'exec', REMOTE, 'busybox', 'timeout', '5', 'busybox', 'wget', '-q', '-O', '-', `http://${REMOTE_HOST_IP}:${hp}/`]);
    assert.equal(remote.code, 0, show(remote));
    assert.match(remote.stdout, /hello-h10n-web/);
    // the same port again: docker's words, and the container is not left running
    const again = await docker(['run', '-d', '--name', 'h10n-web2', '-p', `${hp}:80`, IMG, 'sleep', '100']);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, new RegExp(`Bind for 0\\.0\\.0\\.0:${hp} failed: port is already allocated`));
    assert.equal(await inspect('h10n-web2', '{{.State.Running}}'), 'false');
    await dockerOk(['rm', 'h10n-web2']);
    // a port another process holds
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '0.0.0.0', r));
    try {
      const held = (holder.address() as AddressInfo).port;
      const busy = await docker(['run', '--rm', '-p', `${held}:80`, IMG, 'true']);
      assert.notEqual(busy.code, 0);
      assert.match(busy.stderr, new RegExp(`0\\.0\\.0\\.0:${held}: bind: address already in use`));
    } finally {
      holder.close();
    }
    // -p 80: a port berth picks, on 127.0.0.1 only
    const any = await runDetached(['-p', '127.0.0.1::80', IMG, ...WEB('hello-h10n-any')]);
    const anyPort = Number((await dockerOk(['port', any, '80/tcp'])).trim().split(':').pop());
    assert.ok(anyPort > 1024, `a free port: ${anyPort}`);
    await waitFor('the picked port to answer', async () => (await httpGet(`http://127.0.0.1:${anyPort}/`).catch(() => '')).includes('hello-h10n-any'), 10_000);
    await dockerOk(['rm', '-f', any]);
    // stopped: the port is free again and answers nothing
    await dockerOk(['stop', '-t', '1', web]);
    await assert.rejects(httpGet(`http://127.0.0.1:${hp}/`, 2000));
    const rules = await sh('nft', ['list', 'table', 'inet', bd.table]);
    assert.doesNotMatch(rules, new RegExp(`\\b${hp}\\b`), `no rule for ${hp} once stopped:\n${rules}`);
    await dockerOk(['start', web]);
    await waitFor('httpd to answer again after start', async () => (await httpGet(`http://127.0.0.1:${hp}/`).catch(() => '')).includes('hello-h10n-web'), 10_000);
  });

  it('the sidecar: --network container:h10n-web reaches it on localhost', async () => {
    const r = await docker(['run', '--rm', '--network', 'container:h10n-web', IMG, 'sh', '-c', `timeout 5 wget -q -O - http://localhost/; exit $?`]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /hello-h10n-web/);
  });

  it('a user network: names and aliases resolve, other networks cannot reach it, --internal has no way out, IPv6', async () => {
    await dockerOk(['network', 'create', 'h10n-net']);
    await dockerOk(['network', 'create', '--internal', 'h10n-int']);
    await dockerOk(['network', 'create', '--ipv6', '--subnet', 'fd10:10::/64', 'h10n-v6']);
    const srv = await runDetached(['--name', 'h10n-srv', '--network', 'h10n-net', '--network-alias', 'db', IMG, ...WEB('hello-h10n-srv')]);
    const srvIp = await inspect(srv, '{{(index .NetworkSettings.Networks "h10n-net").IPAddress}}');
    for (const name of ['h10n-srv', 'db', srv.slice(0, 12)]) {
      const r = await docker(['run', '--rm', '--network', 'h10n-net', IMG, 'sh', '-c', `timeout 5 wget -q -O - http://${name}/; exit $?`]);
      assert.equal(r.code, 0, `${name}: ${show(r)}`);
      assert.match(r.stdout, /hello-h10n-srv/);
    }
    const ns = await docker(['run', '--rm', '--network', 'h10n-net', IMG, 'nslookup', 'db']);
    assert.match(ns.stdout, new RegExp(srvIp.replace(/\./g, '\\.')), show(ns));
    // the default bridge does not reach the user network
    const iso = await docker(['run', '--rm', IMG, 'sh', '-c', `timeout 2 wget -q -O - http://${srvIp}/; exit $?`]);
    assert.notEqual(iso.code, 0, `isolation: ${show(iso)}`);
    // an internal network's container reaches its peers but not the host's other networks
    const intSrv = await runDetached(['--name', 'h10n-intsrv', '--network', 'h10n-int', IMG, ...WEB('hello-h10n-int')]);
    const peer = await docker(['run', '--rm', '--network', 'h10n-int', IMG, 'sh', '-c', `timeout 5 wget -q -O - http://h10n-intsrv/; exit $?`]);
    assert.equal(peer.code, 0, show(peer));
    const out = await docker(['run', '--rm', '--network', 'h10n-int', IMG, 'sh', '-c', `ip route; timeout 2 wget -q -O - http://${srvIp}/; exit $?`]);
    assert.notEqual(out.code, 0, show(out));
    assert.doesNotMatch(out.stdout, /default/);
    // IPv6: an address of the subnet, a peer reached by name over IPv6
    const v6 = await runDetached(['--name', 'h10n-v6a', '--network', 'h10n-v6', IMG, 'sleep', '1000']);
    const v6ip = await inspect(v6, '{{(index .NetworkSettings.Networks "h10n-v6").GlobalIPv6Address}}');
    assert.match(v6ip, /^fd10:10::/);
    const p6 = await docker(['run', '--rm', '--network', 'h10n-v6', IMG, 'ping6', '-c', '1', '-W', '3', v6ip]);
    assert.equal(p6.code, 0, show(p6));
    // a network with members is not removed
    const rm = await docker(['network', 'rm', 'h10n-net']);
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /has active endpoints/);
    await dockerOk(['rm', '-f', intSrv, v6]);
    await dockerOk(['network', 'rm', 'h10n-int', 'h10n-v6']);
  });

  it('a daemon restart keeps published ports and names working', async () => {
    await bd.restart();
    const hp = (await dockerOk(['port', 'h10n-web', '80'])).trim().split('\n')[0]!.split(':').pop();
    await waitFor('the published port after the restart', async () => (await httpGet(`http://127.0.0.1:${hp}/`).catch(() => '')).includes('hello-h10n-web'), 10_000);
    const r = await docker(['run', '--rm', '--network', 'h10n-net', IMG, 'sh', '-c', `timeout 5 wget -q -O - http://db/; exit $?`]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /hello-h10n-srv/);
    await dockerOk(['rm', '-f', 'h10n-srv', 'h10n-web']);
    await dockerOk(['network', 'rm', 'h10n-net']);
  });

  it('50 parallel run --rm on the bridge: each its own address, nothing left', async () => {
    const runs = await Promise.all(Array.from({ length: 50 }, () => docker(['run', '--rm', IMG, 'sh', '-c', "ip -o -4 addr show eth0 | awk '{print $4}'"], { timeoutMs: 120_000 })));
    for (const r of runs) assert.equal(r.code, 0, show(r));
    const addrs = runs.map((r) => r.stdout.trim());
    assert.equal(new Set(addrs).size, 50, `unique addresses: ${addrs.join(' ')}`);
    const rules = await sh('nft', ['list', 'table', 'inet', bd.table]);
    assert.doesNotMatch(rules, /elements/, `no published port left in the maps:\n${rules}`);
  });
});
