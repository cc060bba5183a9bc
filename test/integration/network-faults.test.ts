// Networks' bad input and faults through berthd, as Debian's docker CLI 20.10 drives it: --ip
// outside the subnet, taken, or on the default bridge; an unknown network; network connect and
// disconnect of a running container (an interface appears and goes, names follow); and berthd
// killed with SIGKILL while containers start on the bridge with published ports: after the
// restart no sandbox, veth, lease or port rule belongs to a container that is not running.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BerthdHarness } from '../fixtures/berthd.ts';
import { runCommand, show } from '../fixtures/busybox.ts';
import { sleep } from '../fixtures/wait.ts';

const bd = new BerthdHarness({ prefix: 'h10f' });
const { docker, dockerOk, runDetached, inspect } = bd;
let IMG = '';

const hostLinks = (): string[] => readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean);

describe('berthd: network faults and bad input', { timeout: 300_000 }, () => {
  before(async () => {
    await bd.setup();
    IMG = bd.image;
    await dockerOk(['network', 'create', '--subnet', '10.244.10.0/24', 'h10f-net']);
  });

  after(() => bd.teardown());

  it('--ip: outside the subnet, taken, or on the default bridge; an unknown network — docker\'s words, nothing left', async () => {
    const before = (await dockerOk(['ps', '-aq'])).trim();
    const outside = await docker(['run', '--rm', '--network', 'h10f-net', '--ip', '10.9.9.9', IMG, 'true']);
    assert.notEqual(outside.code, 0);
    assert.match(outside.stderr, /Invalid address 10\.9\.9\.9: It does not belong to any of this network's subnets/, show(outside));
    const a = await runDetached(['--name', 'h10f-a', '--network', 'h10f-net', '--ip', '10.244.10.50', IMG, 'sleep', '1000']);
    assert.equal(await inspect(a, '{{(index .NetworkSettings.Networks "h10f-net").IPAddress}}'), '10.244.10.50');
    assert.equal(await inspect(a, '{{(index .NetworkSettings.Networks "h10f-net").IPAMConfig.IPv4Address}}'), '10.244.10.50');
    const taken = await docker(['run', '--rm', '--network', 'h10f-net', '--ip', '10.244.10.50', IMG, 'true']);
    assert.notEqual(taken.code, 0);
    assert.match(taken.stderr, /Address already in use/, show(taken));
    // (without --network the docker CLI drops --ip, as docker's does: the default bridge named)
    const onBridge = await docker(['run', '--rm', '--network', 'bridge', '--ip', '172.17.0.50', IMG, 'true']);
    assert.notEqual(onBridge.code, 0);
    assert.match(onBridge.stderr, /user specified IP address is supported on user defined networks only/, show(onBridge));
    const unknown = await docker(['run', '--rm', '--network', 'h10f-nope', IMG, 'true']);
    assert.equal(unknown.code, 125, show(unknown));
    assert.match(unknown.stderr, /Error response from daemon: network h10f-nope not found/);
    // nothing made by the refused ones
    assert.deepEqual((await dockerOk(['ps', '-aq'])).trim().split('\n').filter(Boolean).sort(), [...before.split('\n').filter(Boolean), a.slice(0, 12)].sort());
    // released at rm: the address is free again
    await dockerOk(['rm', '-f', a]);
    const again = await docker(['run', '--rm', '--network', 'h10f-net', '--ip', '10.244.10.50', IMG, 'true']);
    assert.equal(again.code, 0, show(again));
  });

  it('network connect and disconnect of a running container: eth1 comes and goes, its names with it', async () => {
    const web = await runDetached(['--name', 'h10f-web', IMG, 'sh', '-c', 'mkdir -p /www && echo hello-h10f > /www/index.html && exec httpd -f -p 80 -h /www']);
    const ifs = async (): Promise<string> => (await dockerOk(['exec', web, 'sh', '-c', "cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' ' | sort | tr '\\n' ' '"])).trim();
    assert.equal(await ifs(), 'eth0 lo');
    await dockerOk(['network', 'connect', '--alias', 'www', 'h10f-net', 'h10f-web']);
    assert.equal(await ifs(), 'eth0 eth1 lo');
    assert.match(await inspect(web, '{{(index .NetworkSettings.Networks "h10f-net").IPAddress}}'), /^10\.244\.10\.\d+$/);
    const byAlias = await docker(['run', '--rm', '--network', 'h10f-net', IMG, 'sh', '-c', 'timeout 5 wget -q -O - http://www/; exit $?']);
    assert.equal(byAlias.code, 0, show(byAlias));
    assert.match(byAlias.stdout, /hello-h10f/);
    const twice = await docker(['network', 'connect', 'h10f-net', 'h10f-web']);
    assert.notEqual(twice.code, 0);
    assert.match(twice.stderr, /endpoint with name h10f-web already exists in network h10f-net/);
    await dockerOk(['network', 'disconnect', 'h10f-net', 'h10f-web']);
    assert.equal(await ifs(), 'eth0 lo');
    const gone = await docker(['run', '--rm', '--network', 'h10f-net', IMG, 'sh', '-c', 'timeout 5 wget -q -O - http://www/; exit $?']);
    assert.notEqual(gone.code, 0, show(gone));
    await dockerOk(['rm', '-f', web]);
  });

  it('berthd SIGKILLed while containers start with published ports: after the restart nothing belongs to a container that does not run', async () => {
    const starts = Array.from({ length: 8 }, (_, i) => docker(['run', '-d', '--name', `h10f-k${i}`, '-p', '80', IMG, 'sleep', '1000'], { timeoutMs: 30_000 }));
    await sleep(150);
    await bd.stop('SIGKILL');
    await Promise.all(starts);
    await bd.start();
    const ids = (await dockerOk(['ps', '-aq', '--no-trunc', '--filter', 'name=h10f-k'])).trim().split('\n').filter(Boolean);
    for (const id of ids) bd.seen.add(id);
    const running = new Set<string>();
    const veths = new Set<string>();
    for (const id of ids) {
      const x = JSON.parse(await inspect(id, '{{json .}}')) as { State: { Running: boolean }; NetworkSettings: { SandboxKey: string; Ports: Record<string, unknown> } };
      if (x.State.Running) {
        running.add(id);
        assert.ok(existsSync(x.NetworkSettings.SandboxKey), `${id}: its sandbox ${x.NetworkSettings.SandboxKey}`);
        assert.ok(Object.keys(x.NetworkSettings.Ports).length > 0, `${id}: its port`);
        const ex = JSON.parse((await bd.http('GET', `/containers/${id}/explain`)).body) as { steps: { network: { endpoints: { hostVeth: string }[] } } };
        for (const e of ex.steps.network.endpoints) veths.add(e.hostVeth);
      } else {
        assert.equal(x.NetworkSettings.SandboxKey, '', `${id} does not run: no sandbox`);
      }
    }
    // sandboxes: the running ones' and the daemon's spares only; veths: the running ones' only
    const netns = join(bd.exec, 'netns');
    const files = existsSync(netns) ? readdirSync(netns) : [];
    assert.ok(files.length <= running.size + 2, `sandboxes: ${files.length} for ${running.size} running (+2 spares)`);
    const ours = hostLinks().filter((n) => n.startsWith('vb'));
    const stray = ours.filter((v) => !veths.has(v));
    const detail = stray.length ? (await runCommand('ip', ['-d', 'link', 'show', stray[0]!])).stdout + bd.log.slice(-2000) : '';
    assert.deepEqual(stray, [], `veths of no running container: ${ours.join(' ')} (running ${running.size}, ids ${ids.length})\n${detail}`);
    // the table holds the running ones' ports only
    const nft = await runCommand('nft', ['-j', 'list', 'map', 'inet', bd.table, 'any4']);
    const elems = nft.code === 0 ? ((JSON.parse(nft.stdout) as { nftables: { map?: { elem?: unknown[] } }[] }).nftables.find((x) => x.map)?.map?.elem ?? []) : [];
    assert.equal(elems.length, running.size, `port map elements ${JSON.stringify(elems)} for ${running.size} running`);
    // and every one of them can still be removed, leaving nothing (the harness checks mounts, veths, cgroups)
    if (ids.length > 0) await dockerOk(['rm', '-f', ...ids]);
    assert.deepEqual(hostLinks().filter((n) => n.startsWith('vb')), []);
  });
});
