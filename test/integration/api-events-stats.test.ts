// berthd's events, stats, update, system df/prune and healthchecks as real clients drive them:
// Debian's docker CLI 20.10 (/usr/bin/docker) and the Docker SDK for Python (/usr/bin/python3)
// against a private berthd (dist/berthd.js) with its own socket, data root and exec root. What a
// user sees is asserted (docker's output and columns, inspect's State.Health, the cgroup file an
// update writes), and nothing is left behind: no container, mount, cgroup or process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BerthdHarness, DOCKER } from '../fixtures/berthd.ts';
import { busyboxRootfs, show } from '../fixtures/busybox.ts';
import { cgroupDirsOf } from '../fixtures/host.ts';
import { buildImage, pushImage } from '../fixtures/images.ts';
import { tarDir } from '../fixtures/registry.ts';
import { sleep, waitFor } from '../fixtures/wait.ts';

const bd = new BerthdHarness({ prefix: 'h9m' });
const { docker, dockerOk, runDetached, python, inspect, env } = bd;
let IMG = '';

/** docker's --since/--until value for a time: seconds.nanoseconds */
const stamp = (ms: number): string => (ms / 1000).toFixed(3);

/** the events of a time window, as docker's JSON lines (`--format '{{json .}}'`) */
async function eventsBetween(fromMs: number, toMs: number, filters: string[] = []): Promise<Record<string, any>[]> {
  const out = await dockerOk(['events', '--since', stamp(fromMs), '--until', stamp(toMs), ...filters.flatMap((f) => ['--filter', f]), '--format', '{{json .}}']);
  return out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
}

describe('berthd: events, stats, update, system df/prune, healthchecks', { timeout: 300_000 }, () => {
  before(async () => {
    await bd.setup();
    IMG = bd.image;
  });

  after(() => bd.teardown());

  it('docker events --since replays a run --rm: create, attach, start, die with its exitCode, destroy; filters narrow it', async () => {
    const t0 = Date.now() - 1;
    const r = await docker(['run', '--rm', '--name', 'h9m-ev1', '-l', 'h9m=yes', IMG, 'sh', '-c', 'exit 3']);
    assert.equal(r.code, 3, show(r));
    const other = await docker(['run', '--rm', '--name', 'h9m-ev2', IMG, 'true']);
    assert.equal(other.code, 0, show(other));
    const t1 = Date.now() + 1;
    const evs = await eventsBetween(t0, t1, ['container=h9m-ev1']);
    const actions = evs.map((e) => e.Action);
    for (const a of ['create', 'start', 'die', 'destroy']) assert.ok(actions.includes(a), `${a} in ${actions.join(',')}`);
    assert.ok(actions.indexOf('create') < actions.indexOf('start') && actions.indexOf('start') < actions.indexOf('die') && actions.indexOf('die') < actions.indexOf('destroy'), actions.join(','));
    const die = evs.find((e) => e.Action === 'die')!;
    assert.equal(die.Type, 'container');
    assert.equal(die.Actor.Attributes.exitCode, '3');
    assert.equal(die.Actor.Attributes.name, 'h9m-ev1');
    assert.equal(die.Actor.Attributes.image, IMG);
    assert.equal(die.Actor.Attributes.h9m, 'yes');
    assert.equal(die.status, 'die');
    assert.equal(die.from, IMG);
    assert.equal(die.scope, 'local');
    assert.equal(die.id, die.Actor.ID);
    assert.ok(evs.every((e) => e.Actor.Attributes.name === 'h9m-ev1'), 'only h9m-ev1');
    // event and label filters, and the CLI's own line format
    const dies = await eventsBetween(t0, t1, ['event=die', 'label=h9m=yes']);
    assert.deepEqual(dies.map((e) => e.Actor.Attributes.name), ['h9m-ev1']);
    const both = await eventsBetween(t0, t1, ['type=container', 'event=die']);
    assert.deepEqual(both.map((e) => e.Actor.Attributes.name), ['h9m-ev1', 'h9m-ev2']);
    const text = await dockerOk(['events', '--since', stamp(t0), '--until', stamp(t1), '--filter', 'container=h9m-ev1', '--filter', 'event=die']);
    assert.match(text, /^\d{4}-\d\d-\d\dT\S+ container die [0-9a-f]{64} \(.*exitCode=3.*name=h9m-ev1.*\)\n$/);
    // an image event: the pull of the fixture is in the ring too
    const pulls = await eventsBetween(0, t1, ['type=image', 'event=pull']);
    assert.ok(pulls.some((e) => e.Actor.ID === `${IMG}:latest`), JSON.stringify(pulls));
    // a bad filter is docker's 400
    const bad = await docker(['events', '--filter', 'colour=red', '--until', stamp(t1)]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid filter 'colour'/);
  });

  it('docker events streams live: a stop of an init that ignores SIGTERM shows kill 15, kill 9, die 137, stop as they happen', async () => {
    const id = await runDetached(['--name', 'h9m-live', IMG, 'sleep', '1000']);
    const p = spawn(DOCKER, ['events', '--filter', `container=${id}`, '--format', '{{json .}}'], { env: { ...process.env, ...env() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    try {
      await sleep(500);
      await dockerOk(['stop', '-t', '1', 'h9m-live']);
      await waitFor('the stop event', () => out.includes('"Action":"stop"'), 10_000, () => out);
      const seenEvents = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>)
        .map((e) => `${e.Action} ${e.Actor.Attributes.signal ?? e.Actor.Attributes.exitCode ?? ''}`.trim());
      assert.deepEqual(seenEvents, ['kill 15', 'kill 9', 'die 137', 'stop']);
    } finally {
      p.kill();
    }
    await dockerOk(['rm', id]);
  });
  it('docker stats --no-stream shows the columns and a 64 MiB limit; the API answer has docker\'s v1.41 fields; the SDK streams', async () => {
    const id = await runDetached(['--name', 'h9m-stats', '--memory', '64m', '--pids-limit', '50', IMG, 'sh', '-c', 'head -c 10000000 /dev/zero > /dev/shm/fill; sleep 1000']);
    await sleep(500);
    const out = await dockerOk(['stats', '--no-stream', 'h9m-stats']);
    const [header, row] = out.trim().split('\n');
    assert.match(header!, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
    assert.match(row!, new RegExp(`^${id.slice(0, 12)}\\s+h9m-stats\\s+\\d+\\.\\d+%\\s+[\\d.]+(KiB|MiB) / 64MiB\\s+[\\d.]+%\\s+\\S+ / \\S+\\s+\\S+ / \\S+\\s+[1-9]\\d*$`), out);
    const py = await python(`
import docker, json
c = docker.from_env().containers.get("h9m-stats")
s = c.stats(stream=False)
print(json.dumps({k: s[k] for k in ("name", "id", "pids_stats", "memory_stats", "cpu_stats", "precpu_stats", "read", "preread")}))
it = c.stats(stream=True, decode=True)
a = next(it); b = next(it)
print(json.dumps([a["read"], b["read"], b["preread"]]))
`);
    assert.equal(py.code, 0, show(py));
    const [one, two] = py.stdout.trim().split('\n');
    const s = JSON.parse(one!);
    assert.equal(s.name, '/h9m-stats');
    assert.equal(s.id, id);
    assert.equal(s.memory_stats.limit, 64 * 1024 * 1024);
    assert.ok(s.memory_stats.usage > 8_000_000 && s.memory_stats.usage < 64 * 1024 * 1024, String(s.memory_stats.usage));
    assert.ok(Object.keys(s.memory_stats.stats).length > 0);
    assert.equal(s.pids_stats.limit, 50);
    assert.ok(s.pids_stats.current >= 1);
    assert.ok(s.cpu_stats.cpu_usage.total_usage > 0 && s.cpu_stats.system_cpu_usage > 0 && s.cpu_stats.online_cpus > 0, JSON.stringify(s.cpu_stats));
    // the answer without stream comes primed: precpu is the sample a second before
    assert.ok(s.precpu_stats.system_cpu_usage > 0 && s.precpu_stats.system_cpu_usage <= s.cpu_stats.system_cpu_usage);
    assert.notEqual(s.preread, '0001-01-01T00:00:00Z');
    const [aRead, bRead, bPre] = JSON.parse(two!) as string[];
    assert.equal(bPre, aRead);
    assert.ok(Date.parse(bRead!) - Date.parse(aRead!) >= 900, `${aRead} -> ${bRead}`);
    await dockerOk(['rm', '-f', id]);
    // a container that is not running: docker's zero answer, at once
    const cid = (await dockerOk(['create', '--name', 'h9m-stats2', IMG, 'true'])).trim();
    bd.seen.add(cid);
    const idle = await dockerOk(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', 'h9m-stats2']);
    assert.equal(idle.trim(), 'h9m-stats2 0B / 0B 0');
    await dockerOk(['rm', cid]);
  });

  it('docker update changes the running container\'s cgroup (memory, pids, cpu quota) and the restart policy; inspect shows them', async () => {
    const id = await runDetached(['--name', 'h9m-upd', '--memory', '64m', IMG, 'sleep', '1000']);
    const memFile = cgroupDirsOf(id).map((d) => [join(d, 'memory.limit_in_bytes'), join(d, 'memory.max')]).flat().find((f) => existsSync(f))!;
    assert.ok(memFile, `a memory limit file of ${id}`);
    assert.equal(readFileSync(memFile, 'utf8').trim(), String(64 * 1024 * 1024));
    assert.equal((await dockerOk(['update', '--memory', '96m', '--memory-swap', '200m', '--pids-limit', '33', '--cpus', '0.5', '--restart', 'on-failure:2', 'h9m-upd'])).trim(), 'h9m-upd');
    assert.equal(readFileSync(memFile, 'utf8').trim(), String(96 * 1024 * 1024));
    const pidsFile = cgroupDirsOf(id).map((d) => join(d, 'pids.max')).find((f) => existsSync(f))!;
    assert.equal(readFileSync(pidsFile, 'utf8').trim(), '33');
    const quota = cgroupDirsOf(id).map((d) => [join(d, 'cpu.cfs_quota_us'), join(d, 'cpu.max')]).flat().find((f) => existsSync(f))!;
    assert.match(readFileSync(quota, 'utf8').trim(), /^50000( 100000)?$/);
    assert.equal(await inspect('h9m-upd', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}'),
      `${96 * 1024 * 1024} ${200 * 1024 * 1024} 33 500000000 on-failure:2`);
    // docker's checks, as at create
    const bad = await docker(['update', '--memory', '300m', 'h9m-upd']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time/);
    const tiny = await docker(['update', '--memory', '1m', 'h9m-upd']);
    assert.match(tiny.stderr, /Minimum memory limit allowed is 6MB/);
    // the limits stay across a restart (the bundle's spec has them)
    await dockerOk(['restart', '-t', '0', 'h9m-upd']);
    const memFile2 = cgroupDirsOf(id).map((d) => [join(d, 'memory.limit_in_bytes'), join(d, 'memory.max')]).flat().find((f) => existsSync(f))!;
    assert.equal(readFileSync(memFile2, 'utf8').trim(), String(96 * 1024 * 1024));
    const missing = await docker(['update', '--memory', '96m', 'h9m-nope']);
    assert.match(missing.stderr, /No such container: h9m-nope/);
    await dockerOk(['rm', '-f', id]);
  });
  it('docker system df counts images, containers (active, writable layer sizes), volumes (size, containers using each) and empty build cache; system prune removes the stopped ones', async () => {
    const running = await runDetached(['--name', 'h9m-df1', IMG, 'sh', '-c', 'head -c 300000 /dev/zero > /big; sleep 1000']);
    const stopped = (await dockerOk(['run', '--name', 'h9m-df2', IMG, 'sh', '-c', 'head -c 200000 /dev/zero > /big2'])).trim();
    void stopped;
    const stoppedId = await inspect('h9m-df2', '{{.Id}}');
    bd.seen.add(stoppedId);
    await waitFor('the writable layer', async () => (await dockerOk(['system', 'df', '--format', '{{.Type}} {{.Size}}'])).includes('Containers 500kB'), 5000);
    const table = await dockerOk(['system', 'df']);
    const rows = table.trim().split('\n').map((l) => l.split(/\s{2,}/));
    assert.deepEqual(rows[0], ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE']);
    const row = (t: string): string[] => rows.find((r) => r[0] === t)!;
    assert.deepEqual(row('Images').slice(1, 3), ['1', '1']);
    assert.deepEqual(row('Containers').slice(1, 4), ['2', '1', '500kB']);
    assert.equal(row('Containers')[4], '200kB (40%)');
    assert.deepEqual(row('Local Volumes').slice(1), ['0', '0', '0B', '0B']);
    assert.deepEqual(row('Build Cache').slice(1), ['0', '0', '0B', '0B']);
    const verbose = await dockerOk(['system', 'df', '-v']);
    assert.match(verbose, new RegExp(`${running.slice(0, 12)}\\s+${IMG.replace(/[.]/g, '\\.')}\\s+"sh -c head -c 30000…"\\s+0\\s+300kB\\s`));
    const py = await python('import docker, json; d = docker.from_env().df(); print(json.dumps([len(d["Images"]), len(d["Containers"]), d["Images"][0]["Containers"], d["Volumes"], d["BuildCache"]]))');
    assert.equal(py.code, 0, show(py));
    assert.deepEqual(JSON.parse(py.stdout), [1, 2, 2, [], []]);
    const pruned = await dockerOk(['system', 'prune', '-f']);
    assert.match(pruned, new RegExp(`Deleted Containers:\\n${stoppedId}\\n`));
    assert.match(pruned, /Total reclaimed space: 200kB/);
    const left = (await dockerOk(['ps', '-aq', '--no-trunc'])).trim().split('\n');
    assert.deepEqual(left, [running]);
    assert.match(await dockerOk(['images', '-q']), /^[0-9a-f]{12}\n$/, 'the image in use stays');
    await dockerOk(['rm', '-f', running]);
    // volumes: their size and how many containers use each (docker's UsageData)
    const user = await runDetached(['--name', 'h9m-dfv', '-v', 'h9m-dfvol:/data', IMG, 'sh', '-c', 'head -c 100000 /dev/zero > /data/f; sleep 1000']);
    await dockerOk(['volume', 'create', 'h9m-dfidle']);
    await waitFor('the volume\'s file', async () => (await dockerOk(['system', 'df', '--format', '{{.Type}} {{.Size}}'])).includes('Local Volumes 100kB'), 5000);
    const vrow = (await dockerOk(['system', 'df'])).trim().split('\n').map((l) => l.split(/\s{2,}/)).find((r) => r[0] === 'Local Volumes')!;
    assert.deepEqual(vrow.slice(1), ['2', '1', '100kB', '0B (0%)']);
    assert.match(await dockerOk(['system', 'df', '-v']), /\nh9m-dfidle\s+0\s+0B\nh9m-dfvol\s+1\s+100kB\n/);
    await dockerOk(['rm', '-f', user]);
    await dockerOk(['volume', 'rm', 'h9m-dfvol', 'h9m-dfidle']);
  });
  it('a healthcheck turns healthy then unhealthy: State.Health (status, streak, last results), ps status, health_status events', async () => {
    const t0 = Date.now() - 1;
    const id = await runDetached(['--name', 'h9m-hc', '--health-cmd', 'test -f /tmp/ok && echo fine', '--health-interval', '500ms', '--health-timeout', '2s', '--health-retries', '2',
      IMG, 'sh', '-c', 'touch /tmp/ok; sleep 3; rm /tmp/ok; sleep 1000']);
    assert.match(await dockerOk(['ps', '--filter', 'name=h9m-hc', '--format', '{{.Status}}']), /^Up .* \(health: starting\)\n$/);
    await waitFor('healthy', async () => (await inspect(id, '{{.State.Health.Status}}')) === 'healthy', 10_000, () => bd.log.slice(-2000));
    assert.match(await dockerOk(['ps', '--filter', 'health=healthy', '--format', '{{.Names}} {{.Status}}']), /^h9m-hc Up .* \(healthy\)\n$/);
    const healthy = JSON.parse(await inspect(id, '{{json .State.Health}}'));
    assert.equal(healthy.FailingStreak, 0);
    assert.equal(healthy.Log.at(-1).ExitCode, 0);
    assert.equal(healthy.Log.at(-1).Output, 'fine\n');
    assert.ok(Date.parse(healthy.Log.at(-1).End) >= Date.parse(healthy.Log.at(-1).Start));
    await waitFor('unhealthy', async () => (await inspect(id, '{{.State.Health.Status}}')) === 'unhealthy', 15_000, () => bd.log.slice(-2000));
    const py = await python('import docker, json; c = docker.from_env().containers.get("h9m-hc"); print(json.dumps(c.attrs["State"]["Health"]))');
    assert.equal(py.code, 0, show(py));
    const sick = JSON.parse(py.stdout);
    assert.equal(sick.Status, 'unhealthy');
    assert.ok(sick.FailingStreak >= 2, String(sick.FailingStreak));
    assert.ok(sick.Log.length <= 5 && sick.Log.length >= 3, String(sick.Log.length));
    assert.equal(sick.Log.at(-1).ExitCode, 1);
    assert.match(await dockerOk(['ps', '--filter', 'name=h9m-hc', '--format', '{{.Status}}']), /\(unhealthy\)\n$/);
    const evs = await eventsBetween(t0, Date.now(), [`container=${id}`, 'event=health_status']);
    assert.deepEqual(evs.map((e) => e.Action), ['health_status: healthy', 'health_status: unhealthy']);
    await dockerOk(['rm', '-f', id]);
  });

  it("the image's HEALTHCHECK runs (with a timeout result), --no-healthcheck disables it", async () => {
    const rootfs = join(bd.dir, 'rootfs-hc');
    await busyboxRootfs(rootfs);
    const img = buildImage({ tars: [await tarDir(rootfs)], config: { Cmd: ['sleep', '1000'], Env: ['PATH=/bin:/sbin:/usr/bin'], Healthcheck: { Test: ['CMD', 'sleep', '5'], Interval: 300e6, Timeout: 300e6, Retries: 1 } } });
    rmSync(rootfs, { recursive: true, force: true });
    await pushImage(bd.reg, 'h9m/hc', 'latest', img);
    const hcImg = `${bd.reg.domain}/h9m/hc`;
    await dockerOk(['pull', hcImg]);
    const id = await runDetached(['--name', 'h9m-hc2', hcImg]);
    await waitFor('unhealthy by timeout', async () => (await inspect(id, '{{.State.Health.Status}}')) === 'unhealthy', 10_000, () => bd.log.slice(-2000));
    const h = JSON.parse(await inspect(id, '{{json .State.Health}}'));
    assert.equal(h.Log[0].ExitCode, -1);
    assert.equal(h.Log[0].Output, 'Health check exceeded timeout (0.3s)');
    const off = await runDetached(['--name', 'h9m-hc3', '--no-healthcheck', hcImg]);
    await sleep(800);
    assert.equal(await inspect(off, '{{.State.Health}}'), '<nil>');
    assert.match(await dockerOk(['ps', '--filter', 'name=h9m-hc3', '--format', '{{.Status}}']), /^Up [^(]*\n$/);
    await dockerOk(['rm', '-f', id, off]);
  });
});
