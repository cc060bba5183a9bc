// berthd's events, stats, update, system df/prune and healthchecks as real clients drive them:
// Debian's docker CLI 20.10 (/usr/bin/docker) and the Docker SDK for Python (/usr/bin/python3)
// against a private berthd (dist/berthd.js) with its own socket, data root and exec root. What a
// user sees is asserted (docker's output and columns, inspect's State.Health, the cgroup file an
// update writes), and nothing is left behind: no container, mount, cgroup or process.
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


/** docker's --since/--until value for a time: seconds.nanoseconds */
const stamp = (ms: number): string => (ms / 1000).toFixed(3);

/** the events of a time window, as docker's JSON lines (`--format '{{json .}}'`) */
async function eventsBetween(fromMs: number, toMs: number, filters: string[] = []): Promise<Record<string, any>[]> {
  const out = await dockerOk(['events', '--since', stamp(fromMs), '--until', stamp(toMs), ...filters.flatMap((f) => ['--filter', f]), '--format', '{{json .}}']);
  return out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
}

describe('berthd: events, stats, update, system df/prune, healthchecks', { timeout: 300_000 }, () => {
  before(async () => {
    if (!existsSync(BERTHD)) throw new Error(`${BERTHD} is not built: run npm run build`);
    T = mkdtempSync(join(tmpdir(), 'h9m-berthd-'));
    EXEC = mkdtempSync('/run/h9m-');
    await reg.start();
    const rootfs = join(T, 'rootfs');
    await busyboxRootfs(rootfs);
    const img = buildImage({ tars: [await tarDir(rootfs)], config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin:/sbin:/usr/bin'] } });
    rmSync(rootfs, { recursive: true, force: true });
    await pushImage(reg, 'h9m/busybox', 'latest', img);
    IMG = `${reg.domain}/h9m/busybox`;
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
});
