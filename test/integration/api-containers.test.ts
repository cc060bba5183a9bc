// berthd's containers as real clients drive them: Debian's docker CLI 20.10 (/usr/bin/docker) and
// Docker SDK for Python (/usr/bin/python3), against a berthd (dist/berthd.js) on a private socket,
// data root and exec root, with a busybox image pushed to Debian's docker-registry on 127.0.0.1
// and pulled through berthd. What a user sees is asserted: output, exit codes, docker's columns
// and messages, processes on the host; and that containers outlive the daemon (SIGTERM and
// kill -9) and show their real exit code once it is back. Nothing is left behind: containers are
// removed, the daemon stopped, and no mount, cgroup or process of the test's containers remains.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { busyboxRootfs, runCommand, show, type CommandResult } from '../fixtures/busybox.ts';
import { alive, cgroupDirsOf } from '../fixtures/host.ts';
import { buildImage, pushImage } from '../fixtures/images.ts';
import { LocalRegistry, tarDir } from '../fixtures/registry.ts';
import { sleep, waitFor } from '../fixtures/wait.ts';

const BERTHD = fileURLToPath(new URL('../../dist/berthd.js', import.meta.url));
const DOCKER = '/usr/bin/docker'; // Debian's 20.10 client, not /usr/local/bin/docker
const PYTHON = '/usr/bin/python3'; // Debian's, with python3-docker

const reg = new LocalRegistry();
let T = '';
/** short: the monitors' sockets live under it and sun_path holds 108 bytes */
let EXEC = '';
let sock = '';
let daemon: ChildProcess | undefined;
let daemonLog = '';
let IMG = '';
/** every container id the tests saw, for the leak check */
const seen = new Set<string>();

const env = (): NodeJS.ProcessEnv => ({ DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(T, 'docker-config') });

function docker(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  return runCommand(DOCKER, args, { env: env(), label: `docker ${args.join(' ')}`, timeoutMs: opts.timeoutMs ?? 60_000, ...(opts.input !== undefined && { input: opts.input }) });
}

async function dockerOk(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await docker(args, opts);
  assert.equal(r.code, 0, `${show(r)}\n--- berthd log ---\n${daemonLog.slice(-3000)}`);
  return r.stdout;
}

/** `docker run -d ...`: the id, remembered for the leak check */
async function runDetached(args: string[]): Promise<string> {
  const id = (await dockerOk(['run', '-d', ...args])).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  seen.add(id);
  return id;
}

function python(script: string): Promise<CommandResult> {
  return runCommand(PYTHON, ['-c', script], { env: env(), label: 'python3 docker SDK', timeoutMs: 60_000 });
}

function ping(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, method: 'GET', path: '/_ping' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

function startDaemon(): ChildProcess {
  const p = spawn(process.execPath, [BERTHD, '-H', `unix://${sock}`, '--data-root', join(T, 'data'), '--exec-root', EXEC,
    '--config-file', join(T, 'daemon.json')], { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderr!.setEncoding('utf8').on('data', (d: string) => { daemonLog = (daemonLog + d).slice(-20_000); });
  return p;
}

async function waitForPing(p: ChildProcess): Promise<void> {
  await waitFor('berthd to answer /_ping', async () => {
    if (p.exitCode !== null) assert.fail(`berthd exited ${p.exitCode}: ${daemonLog}`);
    try {
      return (await ping()) === 200;
    } catch {
      return false;
    }
  }, 15_000, () => daemonLog, 50);
}

async function stopDaemon(p: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  p.kill(signal);
  const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
  const code = await exited;
  clearTimeout(t);
  return code;
}

const inspect = async (ref: string, format: string): Promise<string> => (await dockerOk(['inspect', '-f', format, ref])).trim();

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(`${dir}/`));
}

/** processes whose command line names `id` (monitors: their --dir and --log) */
function processesNaming(id: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(id) && alive(Number(name))) out.push(Number(name));
    } catch { /* exited */ }
  }
  return out;
}

describe('berthd: containers for the docker CLI and the Python SDK', { timeout: 300_000 }, () => {
  before(async () => {
    if (!existsSync(BERTHD)) throw new Error(`${BERTHD} is not built: run npm run build`);
    T = mkdtempSync(join(tmpdir(), 'h9i-berthd-'));
    EXEC = mkdtempSync('/run/h9i-');
    await reg.start();
    const rootfs = join(T, 'rootfs');
    await busyboxRootfs(rootfs);
    const img = buildImage({ tars: [await tarDir(rootfs)], config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin:/sbin:/usr/bin'] } });
    rmSync(rootfs, { recursive: true, force: true });
    await pushImage(reg, 'h9i/busybox', 'latest', img);
    IMG = `${reg.domain}/h9i/busybox`;
    sock = join(T, 'berthd.sock');
    writeFileSync(join(T, 'daemon.json'), '{}\n');
    daemon = startDaemon();
    await waitForPing(daemon);
    await dockerOk(['pull', IMG]);
  });

  after(async () => {
    try {
      if (daemon && daemon.exitCode === null) {
        const ids = (await docker(['ps', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
        if (ids.length > 0) await docker(['rm', '-f', ...ids]);
        const code = await stopDaemon(daemon);
        assert.equal(code, 0, `berthd exit on SIGTERM\n${daemonLog}`);
      }
      // nothing of the tests' containers stays: no mount, cgroup, monitor or container process
      assert.deepEqual(mountsUnder(T), [], 'mounts left under the data root');
      for (const id of seen) {
        assert.deepEqual(cgroupDirsOf(id), [], `cgroups of ${id} left behind`);
        assert.deepEqual(processesNaming(id), [], `processes of ${id} left behind`);
      }
    } finally {
      for (const p of mountsUnder(T).reverse()) await runCommand('umount', ['-l', p]).catch(() => undefined);
      await reg.stop();
      if (T) rmSync(T, { recursive: true, force: true });
      if (EXEC) rmSync(EXEC, { recursive: true, force: true });
    }
  });

  it('docker run --rm prints the output and propagates the exit code; the container is gone after', async () => {
    const r = await docker(['run', '--rm', IMG, 'echo', 'hi']);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'hi\n');
    const three = await docker(['run', '--rm', IMG, 'sh', '-c', 'echo to-stderr >&2; exit 3']);
    assert.equal(three.code, 3, show(three));
    assert.equal(three.stderr, 'to-stderr\n');
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint();
      await dockerOk(['run', '--rm', IMG, 'true']);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, b) => a - b);
    console.log(`docker run --rm IMG true through berthd: median ${times[2]!.toFixed(0)} ms (min ${times[0]!.toFixed(0)}, max ${times[4]!.toFixed(0)})`);
    assert.equal((await dockerOk(['ps', '-aq'])).trim(), '', '--rm containers are removed');
    // a command that does not exist: docker's 127 and message, and --rm removes it
    const missing = await docker(['run', '--rm', IMG, 'h9i-no-such-command']);
    assert.equal(missing.code, 127, show(missing));
    assert.match(missing.stderr, /executable file not found in \$PATH/);
    assert.equal((await dockerOk(['ps', '-aq'])).trim(), '');
  });

  it('run -d, ps with docker\'s columns, logs, stop after the timeout (sleep as PID 1 ignores SIGTERM), inspect, rm', async () => {
    const id = await runDetached(['--name', 'h9i-web', IMG, 'sh', '-c', 'echo started; exec sleep 1000']);
    const ps = (await dockerOk(['ps'])).split('\n');
    assert.match(ps[0]!, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    const row = ps.find((l) => l.startsWith(id.slice(0, 12)));
    assert.ok(row, `ps lists ${id}:\n${ps.join('\n')}`);
    assert.ok(row.startsWith(`${id.slice(0, 12)}   ${IMG}   "sh -c echo started;…"   `), row);
    assert.match(row, /\s(Up (Less than a second|\d+ seconds?))\s/);
    assert.match(row, /h9i-web$/);
    assert.equal(await inspect('h9i-web', '{{.State.Status}} {{.State.Running}} {{.Name}}'), 'running true /h9i-web');
    const pid = Number(await inspect(id, '{{.State.Pid}}'));
    assert.ok(alive(pid), 'the container\'s process runs on the host');
    await waitFor('the first log line', async () => (await dockerOk(['logs', 'h9i-web'])) === 'started\n');

    // rm without -f: docker's 409 and message
    const rm = await docker(['rm', 'h9i-web']);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, new RegExp(`You cannot remove a running container ${id}\\. Stop the container before attempting removal or force remove`));
    // the name is taken
    const dup = await docker(['run', '-d', '--name', 'h9i-web', IMG, 'true']);
    assert.equal(dup.code, 125);
    assert.match(dup.stderr, new RegExp(`Conflict\\. The container name "/h9i-web" is already in use by container "${id}"\\. You have to remove \\(or rename\\) that container to be able to reuse that name\\.`));

    const t0 = Date.now();
    await dockerOk(['stop', '-t', '1', 'h9i-web']);
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 5000, `stop -t 1 took ${took} ms`);
    assert.equal(await inspect(id, '{{.State.ExitCode}} {{.State.Status}}'), '137 exited');
    assert.equal(alive(pid), false);
    assert.match((await dockerOk(['ps', '-a', '--filter', 'name=h9i-web'])).split('\n')[1] ?? '', /Exited \(137\) (Less than a second|\d+ seconds?) ago/);
    await dockerOk(['rm', 'h9i-web']);
    const gone = await docker(['inspect', 'h9i-web']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /No such object: h9i-web/);
    assert.deepEqual(cgroupDirsOf(id), []);
  });

  it('logs -f follows until the container exits; --tail, -t, stdout and stderr kept apart', async () => {
    const id = await runDetached(['--name', 'h9i-talk', IMG, 'sh', '-c', 'for i in 1 2 3; do echo out $i; echo err $i >&2; sleep 0.3; done']);
    const f = await docker(['logs', '-f', 'h9i-talk'], { timeoutMs: 20_000 });
    assert.equal(f.code, 0, show(f));
    assert.equal(f.stdout, 'out 1\nout 2\nout 3\n');
    assert.equal(f.stderr, 'err 1\nerr 2\nerr 3\n');
    // --tail counts entries of both streams, as docker's json-file reader does
    const tail = await docker(['logs', '--tail', '2', '-t', id]);
    assert.match(tail.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z out 3\n$/);
    assert.match(tail.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z err 3\n$/);
    assert.equal(await inspect(id, '{{.State.ExitCode}}'), '0');
    await dockerOk(['rm', id]);
  });

  it('wait, kill -s, rename, pause/unpause, top', async () => {
    const id = await runDetached(['--name', 'h9i-sig', IMG, 'sh', '-c', 'trap "echo got usr1; exit 42" USR1; while true; do sleep 0.1; done']);
    const top = await dockerOk(['top', 'h9i-sig']);
    assert.match(top.split('\n')[0]!, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
    assert.match(top, /sh -c trap/);
    await dockerOk(['pause', 'h9i-sig']);
    assert.equal(await inspect(id, '{{.State.Status}} {{.State.Paused}}'), 'paused true');
    assert.match(await dockerOk(['ps', '--filter', `id=${id}`, '--format', '{{.Status}}']), /^Up .* \(Paused\)\n$/);
    const rmPaused = await docker(['rm', id]);
    assert.match(rmPaused.stderr, /You cannot remove a paused container/);
    await dockerOk(['unpause', 'h9i-sig']);
    assert.equal(await inspect(id, '{{.State.Status}}'), 'running');
    await dockerOk(['rename', 'h9i-sig', 'h9i-sig2']);
    assert.equal(await inspect(id, '{{.Name}}'), '/h9i-sig2');
    const waiting = docker(['wait', 'h9i-sig2']);
    await sleep(200);
    await dockerOk(['kill', '-s', 'USR1', 'h9i-sig2']);
    const w = await waiting;
    assert.equal(w.stdout, '42\n', show(w));
    assert.equal(await dockerOk(['logs', id]), 'got usr1\n');
    const notRunning = await docker(['kill', id]);
    assert.equal(notRunning.code, 1);
    assert.match(notRunning.stderr, new RegExp(`Container ${id} is not running`));
    await dockerOk(['rm', id]);
  });

  it('stdin: echo hi | docker run -i IMG cat; docker attach sees the output and the exit code', async () => {
    const r = await docker(['run', '-i', '--rm', IMG, 'cat'], { input: 'hi from stdin\n' });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'hi from stdin\n');
    const id = await runDetached(['--name', 'h9i-att', IMG, 'sh', '-c', 'sleep 1; echo from-attach; exit 5']);
    const a = await docker(['attach', 'h9i-att']);
    assert.equal(a.stdout, 'from-attach\n', show(a));
    assert.equal(a.code, 5);
    await dockerOk(['rm', id]);
  });

  it('the Python SDK: containers.run returns the output; list, logs, wait, remove', async () => {
    const r = await python(`
import docker
c = docker.from_env()
print(repr(c.containers.run(${JSON.stringify(IMG)}, 'echo hi', remove=True)))
x = c.containers.run(${JSON.stringify(IMG)}, ['sh', '-c', 'echo out; exit 2'], detach=True, name='h9i-py')
print(x.wait()['StatusCode'])
print(repr(x.logs()))
print([y.name for y in c.containers.list(all=True)])
x.remove()
print([y.name for y in c.containers.list(all=True)])
`);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(r.stdout.trim().split('\n'), ["b'hi\\n'", '2', "b'out\\n'", "['h9i-py']", '[]']);
  });

  for (const how of ['SIGTERM', 'SIGKILL'] as const) {
    it(`a running container survives berthd's end (${how}) and shows its real exit code once berthd is back`, async () => {
      const id = await runDetached(['--name', `h9i-survive-${how}`, IMG, 'sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 7']);
      const pid = Number(await inspect(id, '{{.State.Pid}}'));
      const code = await stopDaemon(daemon!, how);
      if (how === 'SIGTERM') assert.equal(code, 0, daemonLog);
      await sleep(300);
      assert.ok(alive(pid), 'the container runs on without berthd');
      daemon = startDaemon();
      await waitForPing(daemon);
      const ps = await dockerOk(['ps', '--filter', `id=${id}`, '--format', '{{.Names}} {{.Status}}']);
      assert.match(ps, new RegExp(`^h9i-survive-${how} Up .*\\n$`));
      // the logs written meanwhile are there; the exit after the restart is recorded
      writeFileSync(join(T, 'data', 'containers', id, 'bundle', 'rootfs', 'tmp', 'go'), '');
      const w = await docker(['wait', id]);
      assert.equal(w.stdout, '7\n', show(w));
      assert.equal(await inspect(id, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 7');
      assert.notEqual(await inspect(id, '{{.State.FinishedAt}}'), '0001-01-01T00:00:00Z');
      await dockerOk(['rm', id]);
    });
  }

  it('a container that exits while berthd is down shows its exit code and FinishedAt when berthd is back', async () => {
    const id = await runDetached(['--name', 'h9i-down', IMG, 'sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 9']);
    assert.equal(await stopDaemon(daemon!, 'SIGKILL'), null);
    writeFileSync(join(T, 'data', 'containers', id, 'bundle', 'rootfs', 'tmp', 'go'), '');
    await waitFor('the container to exit', () => existsSync(join(T, 'data', 'containers', id, 'exit.json')), 10_000);
    daemon = startDaemon();
    await waitForPing(daemon);
    assert.equal(await inspect(id, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 9');
    const finished = Date.parse(await inspect(id, '{{.State.FinishedAt}}'));
    assert.ok(Date.now() - finished < 60_000, 'FinishedAt is the real exit time');
    assert.deepEqual(cgroupDirsOf(id), [], 'the runtime container was deleted at reconcile');
    await dockerOk(['rm', id]);
  });
});
