// berthd under faults and load, as real clients see it: Debian's docker CLI 20.10 (/usr/bin/docker)
// and raw HTTP against a berthd (dist/berthd.js) on a private socket, data root and exec root.
// 50 parallel `run --rm` while GET /containers/json stays fast; berthd killed (-9) in the middle of
// runs, then restarted; a monitor killed (-9); clients hanging up in the middle of attach, logs -f
// and exec; the data root's disk full (a small loop-mounted ext4); bad input with docker's status
// codes and messages. After every fault: docker ps -a consistent, rm -f works, and no mount,
// cgroup, monitor or record of the test's containers remains.
// Debugging aids: H9R_DAEMON_LOG=FILE appends berthd's whole log to FILE; H9R_NODE_FLAGS passes
// flags to berthd's node (e.g. "--cpu-prof --cpu-prof-dir=DIR" to see what holds its event loop).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BerthdHarness, mountsUnder, processesNaming } from '../fixtures/berthd.ts';
import { runCommand, show } from '../fixtures/busybox.ts';
import { alive, cgroupMounts } from '../fixtures/host.ts';
import { buildImage, pushImage } from '../fixtures/images.ts';
import { tarEntries } from '../fixtures/registry.ts';
import { sleep, waitFor } from '../fixtures/wait.ts';

const bd = new BerthdHarness({
  prefix: 'h9r',
  tmpName: 'h9r-faults-',
  nodeFlags: process.env.H9R_NODE_FLAGS ? process.env.H9R_NODE_FLAGS.split(' ') : [],
  ...(process.env.H9R_DAEMON_LOG && { logFile: process.env.H9R_DAEMON_LOG }),
});
const { docker, dockerOk, runDetached, inspect, http } = bd;
let IMG = '';

async function runOk(cmd: string, args: string[]): Promise<void> {
  const r = await runCommand(cmd, args);
  assert.equal(r.code, 0, show(r));
}

/** a layer of 1 MiB that does not compress: more than a full disk has room for */
const bigLayerTar = (): Promise<Buffer> => tarEntries([[{ path: 'big', type: 'file', mode: 0o644 }, randomBytes(1 << 20)]]);

/** every berth cgroup directory of `id` (or any container) in every mounted hierarchy */
function berthCgroups(id = ''): string[] {
  const out: string[] = [];
  for (const m of cgroupMounts()) {
    const d = join(m.mountPoint, 'berth');
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d)) if (/^[0-9a-f]{64}$/.test(name) && name.startsWith(id) && (id !== '' || bd.seen.has(name))) out.push(join(d, name));
  }
  return out;
}

const containerDirs = (): string[] => (existsSync(join(bd.data, 'containers')) ? readdirSync(join(bd.data, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n)) : []);

/** ps -a, then rm -f of each; after: no record, mount, cgroup, monitor or run directory of any container */
async function removeAllAndCheckClean(what: string): Promise<void> {
  const ids = (await dockerOk(['ps', '-aq', '--no-trunc'])).split('\n').filter(Boolean);
  for (const id of ids) {
    bd.seen.add(id);
    await dockerOk(['rm', '-f', id]);
  }
  assert.equal((await dockerOk(['ps', '-aq'])).trim(), '', `${what}: ps -a is empty after rm -f`);
  assert.deepEqual(containerDirs(), [], `${what}: container directories left under ${bd.data}/containers`);
  assert.deepEqual(mountsUnder(join(bd.data, 'containers')), [], `${what}: mounts left`);
  assert.deepEqual(berthCgroups(), [], `${what}: cgroups left`);
  assert.deepEqual(processesNaming(join(bd.data, 'containers')), [], `${what}: monitors left`);
  const run = join(bd.exec, 'containers');
  assert.deepEqual(existsSync(run) ? readdirSync(run) : [], [], `${what}: run directories left`);
  // no image layer is still referenced by a bundle that is gone
  const snaps = join(bd.data, 'snapshot', 'snapshots');
  for (const n of existsSync(snaps) ? readdirSync(snaps) : []) {
    const owners = join(snaps, n, 'owners');
    assert.deepEqual(existsSync(owners) ? readdirSync(owners).map((o) => Buffer.from(o, 'base64url').toString()) : [], [], `${what}: snapshot ${n} still referenced`);
  }
  const rt = join(bd.exec, 'runtime');
  assert.deepEqual(existsSync(rt) ? readdirSync(rt).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [], [], `${what}: runtime state left`);
}

describe('berthd under faults and load', { timeout: 300_000 }, () => {
  before(async () => {
    await bd.setup();
    IMG = bd.image;
  });

  after(() => bd.teardown(() => {
    assert.deepEqual(mountsUnder(bd.dir), [], 'mounts left under the test directory');
    assert.deepEqual(berthCgroups(), [], 'cgroups of the tests\' containers left behind');
    for (const id of bd.seen) assert.deepEqual(processesNaming(id), [], `processes of ${id} left behind`);
  }));

  it('bad input: docker\'s status codes and messages (CLI and raw HTTP)', async () => {
    const unknownFlag = await docker(['run', '--no-such-flag', IMG, 'true']);
    assert.equal(unknownFlag.code, 125, show(unknownFlag));
    assert.match(unknownFlag.stderr, /unknown flag: --no-such-flag/);
    const mem = await docker(['run', '--rm', '--memory', '12q', IMG, 'true']);
    assert.equal(mem.code, 125, show(mem));
    assert.match(mem.stderr, /invalid argument "12q" for "-m, --memory" flag: invalid size: '12q'/);
    const missing = await docker(['run', '--rm', '--pull', 'never', `${bd.reg.domain}/h9r/no-such-image`, 'true']);
    assert.equal(missing.code, 125, show(missing));
    assert.match(missing.stderr, new RegExp(`No such image: ${bd.reg.domain}/h9r/no-such-image:latest`));

    const id = await runDetached(['--name', 'h9r-bad', IMG, 'sleep', '1000']);
    const conflict = await docker(['run', '-d', '--name', 'h9r-bad', IMG, 'true']);
    assert.equal(conflict.code, 125, show(conflict));
    assert.match(conflict.stderr, new RegExp(`Conflict\\. The container name "/h9r-bad" is already in use by container "${id}"`));
    const rmRunning = await docker(['rm', 'h9r-bad']);
    assert.equal(rmRunning.code, 1, show(rmRunning));
    assert.match(rmRunning.stderr, new RegExp(`You cannot remove a running container ${id}\\. Stop the container before attempting removal or force remove`));
    // raw: docker's 409 and message body for the same
    const rawRm = await http('DELETE', `/v1.41/containers/${id}`);
    assert.equal(rawRm.status, 409, rawRm.body);
    assert.match(JSON.parse(rawRm.body).message, /You cannot remove a running container/);
    await dockerOk(['rm', '-f', 'h9r-bad']);
    const startRemoved = await docker(['start', 'h9r-bad']);
    assert.equal(startRemoved.code, 1, show(startRemoved));
    assert.match(startRemoved.stderr, /^Error response from daemon: No such container: h9r-bad\nError: failed to start containers: h9r-bad\n$/);
    const rawStart = await http('POST', `/v1.41/containers/${id}/start`);
    assert.equal(rawStart.status, 404, rawStart.body);
    assert.deepEqual(JSON.parse(rawStart.body), { message: `No such container: ${id}` });

    // malformed API bodies: 400 with a message, never a 500 or a stack trace
    const bodies: [string, string, RegExp][] = [
      ['/v1.41/containers/create', '{"Image": ', /invalid JSON|unexpected end|JSON/i],
      ['/v1.41/containers/create', '[1,2]', /./],
      ['/v1.41/containers/create', '{"Image": 42}', /Image/],
      ['/v1.41/containers/create', `{"Image": "${IMG}", "Cmd": "true", "HostConfig": {"Memory": "12q"}}`, /^json: cannot unmarshal string into Go struct field HostConfig\.HostConfig\.Memory of type int64$/],
      ['/v1.41/containers/create', `{"Image": "${IMG}", "Cmd": "true", "HostConfig": {"Binds": "/tmp:/x"}}`, /^json: cannot unmarshal string into Go struct field HostConfig\.HostConfig\.Binds of type \[\]string$/],
      ['/v1.41/containers/create', `{"Image": "${IMG}", "Cmd": 5}`, /^Cmd: want a string or an array of strings$/],
      ['/v1.41/containers/create', `{"Image": "${IMG}", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}`, /restart policy/],
      ['/v1.41/containers/create?name=h9r%20bad', `{"Image": "${IMG}"}`, /Invalid container name/],
    ];
    for (const [path, body, msg] of bodies) {
      const r = await http('POST', path, body);
      assert.equal(r.status, 400, `${path} ${body}: ${r.status} ${r.body}`);
      const j = JSON.parse(r.body) as { message: string };
      assert.equal(typeof j.message, 'string');
      assert.match(j.message, msg, `${body}: ${j.message}`);
      assert.doesNotMatch(j.message, /\n\s+at /, 'no stack trace');
    }
    const noImage = await http('POST', '/v1.41/containers/create', `{"Image": "${bd.reg.domain}/h9r/no-such-image"}`);
    assert.equal(noImage.status, 404, noImage.body);
    assert.deepEqual(JSON.parse(noImage.body), { message: `No such image: ${bd.reg.domain}/h9r/no-such-image:latest` });
    // docker's strslice: a lone string is a one-word command
    const one = await http('POST', '/v1.41/containers/create?name=h9r-strslice', `{"Image": "${IMG}", "Cmd": "true"}`);
    assert.equal(one.status, 201, one.body);
    assert.equal(await inspect('h9r-strslice', '{{json .Config.Cmd}}'), '["true"]');
    await dockerOk(['rm', 'h9r-strslice']);
    assert.equal((await dockerOk(['ps', '-aq'])).trim(), '', 'no container made by bad input');
  });

  it('50 parallel docker run --rm complete with no errors; GET /containers/json keeps answering meanwhile', async () => {
    const N = 50;
    const t0 = Date.now();
    let done = 0;
    const runs = Array.from({ length: N }, () => docker(['run', '--rm', IMG, 'true'], { timeoutMs: 120_000 }).finally(() => done++));
    const latencies: number[] = [];
    // polls until the storm is over, one at a time, as a client would
    while (done < N) {
      const r = await http('GET', '/containers/json?all=1');
      assert.equal(r.status, 200, r.body);
      latencies.push(r.ms);
      await sleep(50);
    }
    const results = await Promise.all(runs);
    const total = Date.now() - t0;
    for (const r of results) assert.equal(r.code, 0, `${show(r)}\n--- berthd log ---\n${bd.log.slice(-3000)}`);
    const sorted = [...latencies].sort((a, b) => a - b);
    const max = sorted[sorted.length - 1]!;
    console.log(`50 parallel docker run --rm IMG true: ${total} ms; GET /containers/json during it: ${latencies.length} polls, median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, max ${max.toFixed(1)} ms`);
    assert.ok(latencies.length >= 5, `only ${latencies.length} polls during the storm`);
    // the daemon's loop is never held for long (a synchronous wait on its path would show as seconds);
    // the 50 ms goal itself is a speed goal, measured side by side by bench/engine-run.sh
    assert.ok(max <= 1000, `GET /containers/json took up to ${max.toFixed(1)} ms during the storm: ${latencies.map((l) => l.toFixed(0)).join(' ')}`);
    await removeAllAndCheckClean('after 50 parallel runs');
  });
  it('berthd never forks: its helpers and the monitors are children of its one zygote, which exits with it', async () => {
    const ppidOf = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]);
    const childrenOf = (pid: number): number[] => readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number).filter((p) => {
      try { return ppidOf(p) === pid; } catch { return false; }
    });
    const daemon = bd.daemon!.pid!;
    const id = await runDetached(['--name', 'h9r-zygote', IMG, 'sleep', '1000']);
    await dockerOk(['exec', id, 'true']);
    const kids = childrenOf(daemon);
    assert.equal(kids.length, 1, `berthd's children: ${kids.map((k) => readFileSync(`/proc/${k}/cmdline`, 'utf8')).join('; ')}`);
    const zygote = kids[0]!;
    assert.match(readFileSync(`/proc/${zygote}/cmdline`, 'utf8'), /^berth-init\0zygote\0/);
    const monitor = Number(await inspect(id, '{{.State.Pid}}').then((p) => ppidOf(Number(p))));
    assert.equal(ppidOf(monitor), zygote, 'the container\'s monitor is a child of the zygote');
    // a zygote killed: berthd goes on, spawning its helpers itself, and says so
    process.kill(zygote, 'SIGKILL');
    await waitFor('berthd to notice its zygote is gone', async () => /zygote exited/.test(bd.log));
    const r = await docker(['run', '--rm', IMG, 'echo', 'still-runs']);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'still-runs\n');
    await dockerOk(['rm', '-f', id]);
    // the next daemon has its own zygote; kill -9 of the daemon takes it along (EOF of its stdin)
    await bd.restart();
    const next = childrenOf(bd.daemon!.pid!);
    assert.equal(next.length, 1);
    await bd.stop('SIGKILL');
    await waitFor('the zygote to exit with its daemon', async () => !alive(next[0]!));
    await bd.start();
    await removeAllAndCheckClean('zygote test');
  });
  it('kill -9 of berthd in the middle of runs: after restart ps -a is consistent, rm -f works, nothing is left', async () => {
    const firstDaemon = bd.daemon!.pid!;
    // several points of a run: just after the creates go out, while bundles are made, while starts run
    for (const delayMs of [60, 250, 600]) {
      const runs = Array.from({ length: 10 }, (_, i) => docker(['run', '-d', i % 2 === 0 ? '--rm' : '--init', IMG, 'sleep', '1000'], { timeoutMs: 60_000 }));
      await sleep(delayMs);
      await bd.restart('SIGKILL');
      const results = await Promise.all(runs);
      for (const r of results) {
        const id = r.stdout.trim();
        if (r.code === 0) bd.seen.add(id);
        else assert.match(r.stderr, /Cannot connect to the Docker daemon|EOF|connection reset|error during connect|unexpected EOF/i, show(r));
      }
      // every container listed is one docker would show, and inspect agrees with ps
      const rows = (await dockerOk(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.State}}'])).split('\n').filter(Boolean);
      for (const row of rows) {
        const [id, state] = row.split(' ');
        bd.seen.add(id!);
        assert.ok(['created', 'running', 'exited', 'dead'].includes(state!), `${delayMs} ms: ${row}`);
        assert.equal(await inspect(id!, '{{.State.Status}}'), state, `${delayMs} ms: inspect of ${id}`);
        if (state === 'running') {
          const pid = Number(await inspect(id!, '{{.State.Pid}}'));
          assert.ok(alive(pid), `${delayMs} ms: ${id} is running with pid ${pid}`);
        }
      }
      await removeAllAndCheckClean(`kill -9 of berthd ${delayMs} ms into 10 runs`);
      // no half-started container's process survived
      for (const id of bd.seen) assert.deepEqual(processesNaming(id), [], `processes of ${id}`);
    }
    assert.notEqual(bd.daemon!.pid, firstDaemon);
  });

  it('kill -9 of a container\'s monitor: the container is recorded exited with an error; rm -f cleans everything', async () => {
    const id = await runDetached(['--name', 'h9r-mon', IMG, 'sh', '-c', 'sleep 1000 & sleep 1000']);
    const pid = Number(await inspect(id, '{{.State.Pid}}'));
    const monitor = processesNaming(join(bd.data, 'containers', id)).filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('berth-monitor') || readFileSync(`/proc/${p}/comm`, 'utf8').startsWith('berth-monitor'));
    assert.equal(monitor.length, 1, `the monitor of ${id}: ${monitor.join(' ')}`);
    process.kill(monitor[0]!, 'SIGKILL');
    await waitFor('berthd to record the monitor\'s death', async () => (await inspect(id, '{{.State.Status}}')) !== 'running', 10_000, () => bd.log.slice(-2000));
    const [status, code, error] = (await inspect(id, '{{.State.Status}}|{{.State.ExitCode}}|{{.State.Error}}')).split('|');
    assert.ok(status === 'exited' || status === 'dead', status);
    assert.equal(code, '137', 'killed with its monitor, as docker shows a SIGKILLed container');
    assert.match(error!, /monitor/);
    assert.match((await dockerOk(['ps', '-a', '--filter', `id=${id}`, '--format', '{{.Status}}'])), /^(Exited \(137\)|Dead)/);
    // the container's processes do not outlive the monitor's death (the cgroup is killed)
    await waitFor('the container\'s processes to be gone', () => !alive(pid), 5000);
    assert.deepEqual(processesNaming(id), []);
    assert.deepEqual(berthCgroups(id), []);
    await dockerOk(['rm', '-f', id]);
    await removeAllAndCheckClean('after the monitor\'s kill -9');
  });

  it('clients hanging up in the middle of attach, logs -f and exec: berthd keeps no fd and stays healthy; the container runs on', async () => {
    const id = await runDetached(['--name', 'h9r-chatty', IMG, 'sh', '-c', 'while true; do echo tick; sleep 0.05; done']);
    const pid = Number(await inspect(id, '{{.State.Pid}}'));
    const berthd = bd.daemon!.pid!;
    const fds = (): number => readdirSync(`/proc/${berthd}/fd`).length;
    // warm up each path once so lazily opened fds (a worker, a cached file) are not counted as leaks
    const raw = (head: string, until: RegExp): Promise<void> => new Promise((resolve, reject) => {
      const s = connect(bd.sock);
      let got = '';
      s.on('error', reject);
      s.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if (until.test(got)) {
          s.destroy();
          resolve();
        }
      });
      s.write(head);
    });
    const attach = (): Promise<void> => raw(`POST /v1.41/containers/${id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: berthd\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`, /101 UPGRADED[\s\S]*tick/);
    const logs = (): Promise<void> => raw(`GET /v1.41/containers/${id}/logs?follow=1&stdout=1&tail=1 HTTP/1.1\r\nHost: berthd\r\n\r\n`, /200 OK[\s\S]*tick[\s\S]*tick/);
    const exec = async (): Promise<void> => {
      const c = await http('POST', `/v1.41/containers/${id}/exec`, JSON.stringify({ AttachStdout: true, AttachStderr: true, Cmd: ['sh', '-c', 'echo ready; sleep 0.3'] }));
      assert.equal(c.status, 201, c.body);
      const body = JSON.stringify({ Detach: false, Tty: false });
      await raw(`POST /v1.41/exec/${JSON.parse(c.body).Id}/start HTTP/1.1\r\nHost: berthd\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, /ready/);
    };
    await attach();
    await logs();
    await exec();
    await sleep(500);
    const before = fds();
    for (let i = 0; i < 100; i++) await [attach, logs, exec][i % 3]!();
    // the execs' processes end on their own (0.3 s); the fds of the hung-up clients must all be closed
    const after = await waitFor('berthd\'s fds to come back', () => { const n = fds(); return n <= before ? n : false; }, 10_000, () => `before ${before}, now ${fds()}: ${readdirSync(`/proc/${berthd}/fd`).map((f) => { try { return readlinkSync(`/proc/${berthd}/fd/${f}`); } catch { return '?'; } }).join(' ')}`);
    console.log(`berthd fds: ${before} before 100 hang-ups, ${after} after`);
    assert.equal(await inspect(id, '{{.State.Status}} {{.State.Pid}}'), `running ${pid}`);
    assert.ok(alive(pid));
    const tail = await dockerOk(['logs', '--tail', '1', id]);
    assert.equal(tail, 'tick\n');
    assert.equal((await http('GET', '/_ping')).status, 200);
    assert.equal((await dockerOk(['exec', id, 'echo', 'still here'])), 'still here\n');
    await dockerOk(['rm', '-f', id]);
  });

  it('the data root\'s disk full: a clear error, no corrupted record, usable again once space is freed', async () => {
    const saved = { data: bd.data, exec: bd.exec, sock: bd.sock, daemon: bd.daemon };
    const img = join(bd.dir, 'disk.img');
    const mnt = join(bd.dir, 'small');
    try {
      await bd.stop('SIGTERM', saved.daemon!);
      writeFileSync(img, '');
      await runOk('truncate', ['-s', '64M', img]);
      await runOk('mkfs.ext4', ['-q', '-F', img]);
      mkdirSync(mnt);
      await runOk('mount', ['-o', 'loop', img, mnt]);
      bd.data = mnt;
      bd.exec = mkdtempSync('/run/h9r-full-');
      bd.sock = join(bd.dir, 'full.sock');
      await bd.start();
      await dockerOk(['pull', IMG]);
      const keep = await runDetached(['--name', 'h9r-keep', IMG, 'sleep', '1000']);
      // the container's writable layer is on the data root: fill it to the last block
      // (small files after the big one take the blocks ext4 frees when dd's reservation goes)
      const fill = await docker(['run', '--name', 'h9r-fill', IMG, 'sh', '-c',
        'dd if=/dev/zero of=/fill bs=1M count=200; sync; i=0; while echo x > /f$i 2>/dev/null; do i=$((i+1)); done; sync; exit 3']);
      assert.equal(fill.code, 3, show(fill));
      assert.match(fill.stderr, /No space left on device/, show(fill));
      // a run now: docker's error with the errno's text, and nothing half-made left
      const run = await docker(['run', '--rm', IMG, 'true']);
      assert.equal(run.code, 125, show(run));
      assert.match(run.stderr, /^docker: Error response from daemon: .*no space left on device/m, show(run));
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
      const create = await docker(['create', '--name', 'h9r-nospace', IMG, 'true']);
      assert.notEqual(create.code, 0, show(create));
      assert.match(create.stderr, /no space left on device/);
      // a pull too
      await pushImage(bd.reg, 'h9r/big', 'latest', buildImage({ tars: [await bigLayerTar()], config: { Cmd: ['/bin/sh'] } }));
      const pull = await docker(['pull', `${bd.reg.domain}/h9r/big`]);
      assert.notEqual(pull.code, 0, show(pull));
      assert.match(pull.stdout + pull.stderr, /no space left on device/);
      // the records are whole: ps -a and images list exactly what there is
      const rows = (await dockerOk(['ps', '-a', '--format', '{{.Names}} {{.State}}'])).split('\n').filter(Boolean).sort();
      assert.deepEqual(rows, ['h9r-fill exited', 'h9r-keep running']);
      assert.match(await dockerOk(['images', '--format', '{{.Repository}}:{{.Tag}}']), new RegExp(`^${IMG}:latest\n$`));
      assert.equal(await inspect('h9r-keep', '{{.State.Status}}'), 'running');
      // space freed: everything works again
      await dockerOk(['rm', 'h9r-fill']);
      assert.equal(await dockerOk(['run', '--rm', IMG, 'echo', 'room again']), 'room again\n');
      await dockerOk(['pull', `${bd.reg.domain}/h9r/big`]);
      await dockerOk(['rmi', `${bd.reg.domain}/h9r/big`]);
      await dockerOk(['rm', '-f', keep]);
      await removeAllAndCheckClean('the full disk');
      assert.equal(await bd.stop(), 0, bd.log);
    } finally {
      if (bd.daemon && bd.daemon !== saved.daemon && bd.daemon.exitCode === null) {
        await docker(['rm', '-f', ...(await docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean)]).catch(() => undefined);
        await bd.stop();
      }
      for (const m of mountsUnder(mnt).reverse()) await runCommand('umount', ['-l', m]);
      if (bd.exec !== saved.exec) rmSync(bd.exec, { recursive: true, force: true });
      ({ data: bd.data, exec: bd.exec, sock: bd.sock } = saved);
      await bd.start();
    }
  });
});
