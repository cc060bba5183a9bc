// berth-monitor around real containers (as root, on the real kernel): the in-process runtime
// creates each container with the monitor as its init's parent, and the tests look at what a user
// of berthd would: the json-file log, exit.json, attach, the pty, rotation, the process tree, and
// that the container outlives the Node process that made it.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeBundle, uniqueId, type Bundle } from '../fixtures/busybox.ts';
import { alive, cgroupDirsOf } from '../fixtures/host.ts';
import { sleep, waitFor } from '../fixtures/wait.ts';
import { Runtime } from '../../src/runtime/container.ts';
import { AttachClient, MonitorClient, monitorCommand, readExit, spawnMonitor, type ExitRecord, type MonitorOptions } from '../../src/native/monitor.ts';

const ROOT = '/run/berth-oci-test-h9mon';
/** conmon's footprint measured on this machine (issue 9): the monitor must stay under it */
const CONMON_RSS_KB = 1.96 * 1024;
const CONMON_PSS_KB = 0.39 * 1024;
const CREATOR = fileURLToPath(new URL('../fixtures/monitor-creator.ts', import.meta.url));
/** docker's json-file time: RFC 3339, UTC, nanoseconds with the trailing zeros trimmed */
const TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$/;

interface LogEntry { log: string; stream: string; time: string }

interface Monitored {
  id: string;
  rt: Runtime;
  bundle: Bundle;
  opts: MonitorOptions;
  client: MonitorClient;
  monitorPid: number;
  initPid: number;
}

function ppid(pid: number): number {
  const m = /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]);
}

/** field 6 of /proc/PID/stat */
function sessionOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

function readLog(path: string): LogEntry[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogEntry);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms)))])
    .finally(() => clearTimeout(timer));
}

async function monitorDir(t: TestContext, id: string, extra: Partial<MonitorOptions> = {}): Promise<MonitorOptions> {
  const dir = await fs.mkdtemp('/var/tmp/berth-h9mon-');
  const opts: MonitorOptions = {
    dir, logPath: `${dir}/${id}-json.log`, attachSocket: `${dir}/attach.sock`, ctlSocket: `${dir}/ctl.sock`,
    exitPath: `${dir}/exit.json`, ...extra,
  };
  if (opts.tty) opts.consoleSocket = `${dir}/console.sock`;
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return opts;
}

/** After a container: the runtime's state, cgroups and the monitor (with its sockets) are gone. */
async function assertGone(m: { id: string; monitorPid: number; opts: MonitorOptions }): Promise<void> {
  await waitFor(`monitor ${m.monitorPid} to exit`, () => !alive(m.monitorPid), 5000);
  for (const s of [m.opts.attachSocket, m.opts.ctlSocket, m.opts.consoleSocket]) {
    if (s) assert.equal(existsSync(s), false, `${s} left behind`);
  }
  assert.equal(existsSync(`${ROOT}/${m.id}`), false, `runtime state of ${m.id} left behind`);
  assert.deepEqual(cgroupDirsOf(m.id), [], `cgroups of ${m.id} left behind`);
}

/** Registers the clean-up: delete (killing the container if it runs), then the monitor must go. */
function cleanup(t: TestContext, rt: Runtime, m: { id: string; monitorPid: number; opts: MonitorOptions }, bundle: Bundle): void {
  t.after(async () => {
    try {
      await rt.delete(m.id, true);
    } finally {
      try { if (alive(m.monitorPid)) await waitFor('monitor exit', () => !alive(m.monitorPid), 5000); } finally { await bundle.cleanup(); }
    }
  });
}

/** Creates and starts a container whose init's parent is a monitor; `beforeStart` runs once the
 * monitor holds the created container (attach there to see the first output). */
async function runMonitored(t: TestContext, o: {
  args: string[];
  monitor?: Partial<MonitorOptions>;
  mutate?: (spec: any) => void;
  beforeStart?: (m: Monitored) => Promise<void>;
  /** default true: tell the monitor the init's pid before start */
  sendPid?: boolean;
}): Promise<Monitored> {
  const id = uniqueId('h9mon-');
  const tty = !!o.monitor?.tty;
  const bundle = await makeBundle({
    args: o.args,
    mutate: (s) => {
      if (tty) {
        s.process.terminal = true;
        s.process.consoleSize = { height: 24, width: 80 };
      }
      o.mutate?.(s);
    },
  });
  const opts = await monitorDir(t, id, o.monitor);
  const rt = new Runtime(ROOT);
  const c = await rt.create({ id, bundle: bundle.dir, consoleSocket: opts.consoleSocket, spawnVia: monitorCommand(opts) });
  const m: Monitored = { id, rt, bundle, opts, client: undefined as unknown as MonitorClient, monitorPid: c.session.pid, initPid: c.rec.pid };
  cleanup(t, rt, m, bundle);
  m.client = await MonitorClient.connect(opts.ctlSocket, opts.exitPath);
  t.after(() => m.client.close());
  if (o.sendPid !== false) m.client.sendPid(c.rec.pid);
  c.session.detach();
  await o.beforeStart?.(m);
  await rt.start(id);
  return m;
}

function smapsRollup(pid: number): { rssKb: number; pssKb: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1]);
  return { rssKb: kb('Rss'), pssKb: kb('Pss') };
}

async function exited(m: Monitored): Promise<ExitRecord> {
  return withTimeout(m.client.exited, 10_000, `container ${m.id} to exit`);
}

describe('berth-monitor', { concurrency: false }, () => {
  test('output lands in the json-file log as docker writes it; the exit code in exit.json; the init is the monitor\'s child; RSS under conmon\'s', async (t) => {
    const m = await runMonitored(t, {
      // stdin open but nobody attached: `read` waits until close-stdin
      monitor: { stdin: true },
      args: ['/bin/sh', '-c', "echo out; echo err >&2; printf 'tab\\there <&> \\001 \\377 \"q\" \\\\\\n'; read x; printf 'no newline'; exit 7"],
    });
    await waitFor('the first lines in the log', () => existsSync(m.opts.logPath) && readLog(m.opts.logPath).length >= 3, 5000);
    assert.equal(ppid(m.initPid), m.monitorPid, 'the container\'s init is a child of the monitor');
    assert.equal(sessionOf(m.monitorPid), m.monitorPid, 'the monitor leads a session of its own (no terminal, no signals of its creator\'s)');

    // an idle monitor: the container waits on its stdin
    await sleep(200);
    const mem = smapsRollup(m.monitorPid);
    t.diagnostic(`idle berth-monitor: RSS ${mem.rssKb} kB, PSS ${mem.pssKb} kB (conmon: 2007 kB RSS, 399 kB PSS)`);
    console.log(`idle berth-monitor: RSS ${(mem.rssKb / 1024).toFixed(2)} MiB, PSS ${(mem.pssKb / 1024).toFixed(2)} MiB`);
    assert.ok(mem.rssKb < CONMON_RSS_KB, `monitor RSS ${mem.rssKb} kB must stay under conmon's ${CONMON_RSS_KB} kB`);

    m.client.closeStdin();
    const ex = await exited(m);
    assert.deepEqual({ ...ex, finishedAt: '' }, { pid: m.initPid, status: 'exited', exitCode: 7, signal: 0, finishedAt: '' });
    assert.match(ex.finishedAt, TIME_RE);
    assert.deepEqual(readExit(m.opts.exitPath), ex, 'exit.json says what the ctl socket said');

    const raw = readFileSync(m.opts.logPath, 'utf8');
    const lines = raw.split('\n').filter(Boolean);
    const noTime = lines.map((l) => l.replace(/"time":"[^"]*"/, '"time":T'));
    const outLines = noTime.filter((l) => l.includes('"stream":"stdout"'));
    assert.deepEqual(outLines, [
      '{"log":"out\\n","stream":"stdout","time":T}',
      // docker's escaping: \t and other control characters as \u00XX, < > & too, invalid UTF-8 as \ufffd
      '{"log":"tab\\u0009here \\u003c\\u0026\\u003e \\u0001 \\ufffd \\"q\\" \\\\\\n","stream":"stdout","time":T}',
      // the last partial line is an entry of its own, without a newline
      '{"log":"no newline","stream":"stdout","time":T}',
    ]);
    assert.deepEqual(noTime.filter((l) => l.includes('"stream":"stderr"')), ['{"log":"err\\n","stream":"stderr","time":T}']);
    for (const e of readLog(m.opts.logPath)) assert.match(e.time, TIME_RE, `time of ${JSON.stringify(e)}`);
    const st = await fs.stat(m.opts.logPath);
    assert.equal(st.mode & 0o777, 0o640, 'the log is 0640 as docker makes it');
    await m.rt.delete(m.id);
    await assertGone(m);
  });

  test('with ten monitors running, each one\'s PSS is under conmon\'s (the static binary\'s pages are shared)', async (t) => {
    const mons: { pid: number; opts: MonitorOptions }[] = [];
    t.after(async () => {
      for (const m of mons) {
        if (!alive(m.pid)) continue;
        const c = await MonitorClient.connect(m.opts.ctlSocket, m.opts.exitPath);
        if (c.connected) c.closeStdin();
        await c.exited.catch(() => {});
        c.close();
      }
    });
    for (let i = 0; i < 10; i++) {
      const opts = await monitorDir(t, `h9mon-pss-${i}`, { stdin: true });
      // any command will do: cat holds its stdin until close-stdin
      mons.push({ pid: await spawnMonitor(opts, ['/bin/cat']), opts });
    }
    await waitFor('the monitors\' sockets', () => mons.every((m) => existsSync(m.opts.ctlSocket)), 5000);
    await sleep(100);
    const mem = mons.map((m) => smapsRollup(m.pid));
    const pss = Math.max(...mem.map((x) => x.pssKb));
    const rss = Math.max(...mem.map((x) => x.rssKb));
    t.diagnostic(`10 idle berth-monitors: RSS ${rss} kB, PSS ${pss} kB each at most (conmon: 2007 kB RSS, 399 kB PSS)`);
    console.log(`10 idle berth-monitors: RSS ${(rss / 1024).toFixed(2)} MiB, PSS ${(pss / 1024).toFixed(2)} MiB each at most`);
    assert.ok(rss < CONMON_RSS_KB, `RSS ${rss} kB`);
    assert.ok(pss < CONMON_PSS_KB, `PSS ${pss} kB must stay under conmon's ${CONMON_PSS_KB} kB`);
    for (const m of mons) {
      const c = await MonitorClient.connect(m.opts.ctlSocket, m.opts.exitPath);
      c.closeStdin();
      const ex = await withTimeout(c.exited, 5000, 'cat to exit');
      c.close();
      assert.equal(ex.exitCode, 0);
      assert.equal(ex.status, 'exited');
      await waitFor('the monitor to exit', () => !alive(m.pid), 5000);
      assert.equal(existsSync(m.opts.ctlSocket), false);
    }
  });

  test('the container keeps running and logging when the process that created it is killed (-9); a new ctl client sees its exit', async (t) => {
    const id = uniqueId('h9mon-');
    const bundle = await makeBundle({ args: ['/bin/sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done'] });
    const opts = await monitorDir(t, id);
    const rt = new Runtime(ROOT);
    const m = { id, opts, monitorPid: 0 };
    cleanup(t, rt, m, bundle);
    const creator = spawn(process.execPath, ['--import', 'tsx', CREATOR, ROOT, id, bundle.dir, JSON.stringify(opts)], {
      stdio: ['ignore', 'pipe', 'inherit'], cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    t.after(() => { if (creator.exitCode === null && creator.signalCode === null) creator.kill('SIGKILL'); });
    let out = '';
    creator.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const started = await waitFor('the creator to start the container', () => out.includes('\n') && (JSON.parse(out) as { monitorPid: number; initPid: number }), 20_000);
    m.monitorPid = started.monitorPid;

    const gone = new Promise((r) => creator.once('exit', r));
    creator.kill('SIGKILL');
    await gone;
    const before = readLog(opts.logPath).length;
    await sleep(400);
    assert.ok(alive(started.monitorPid), 'the monitor outlives its creator');
    assert.ok(alive(started.initPid), 'the container outlives its creator');
    assert.equal(ppid(started.initPid), started.monitorPid);
    const after = readLog(opts.logPath);
    assert.ok(after.length > before + 2, `the container still logs (${before} then ${after.length} lines)`);
    assert.deepEqual(after.slice(0, 3).map((e) => e.log), ['tick 1\n', 'tick 2\n', 'tick 3\n']);

    // berthd restarted: a new control connection, then the container is killed
    const client = await MonitorClient.connect(opts.ctlSocket, opts.exitPath);
    t.after(() => client.close());
    assert.equal(client.connected, true);
    rt.kill(id, 'SIGKILL');
    const ex = await withTimeout(client.exited, 10_000, 'exit after SIGKILL');
    assert.equal(ex.status, 'signaled');
    assert.equal(ex.exitCode, 137);
    assert.equal(ex.signal, 9);
    assert.equal(ex.pid, started.initPid);
    await rt.delete(id);
    await assertGone(m);
    // once the monitor is gone, a client still learns the exit, from exit.json
    const late = await MonitorClient.connect(opts.ctlSocket, opts.exitPath);
    assert.equal(late.connected, false);
    assert.deepEqual(await late.exited, ex);
  });

  test('attach: live stdout and stderr in stdcopy frames, stdin to the container, half-close ends it (stdin-once)', async (t) => {
    let a!: AttachClient;
    const m = await runMonitored(t, {
      monitor: { stdin: true, stdinOnce: true },
      args: ['/bin/sh', '-c', 'echo to-stderr >&2; cat; echo bye'],
      beforeStart: async (mm) => {
        a = await AttachClient.connect(mm.opts.attachSocket, { tty: false });
      },
    });
    t.after(() => a.close());
    let out = '';
    let err = '';
    a.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    a.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    await waitFor('stderr through attach', () => err === 'to-stderr\n', 5000, () => `stderr: ${JSON.stringify(err)}`);
    a.write('hello\n');
    await waitFor('the echo of stdin', () => out === 'hello\n', 5000, () => `stdout: ${JSON.stringify(out)}`);
    a.write('again\n');
    await waitFor('the second echo', () => out === 'hello\nagain\n', 5000, () => `stdout: ${JSON.stringify(out)}`);
    a.end();
    const ex = await exited(m);
    assert.equal(ex.exitCode, 0);
    await a.closed;
    assert.equal(out, 'hello\nagain\nbye\n', 'cat saw EOF after the half-close and the shell went on');
    assert.deepEqual(readLog(m.opts.logPath).map((e) => [e.stream, e.log]), [
      ['stderr', 'to-stderr\n'], ['stdout', 'hello\n'], ['stdout', 'again\n'], ['stdout', 'bye\n'],
    ]);
    await m.rt.delete(m.id);
    await assertGone(m);
  });

  test('tty: the container gets a pty from the monitor, resize via ctl changes its size', async (t) => {
    let a!: AttachClient;
    const m = await runMonitored(t, {
      monitor: { tty: true, stdin: true },
      args: ['/bin/sh', '-c', 'tty; stty size; read x; stty size; exit 3'],
      beforeStart: async (mm) => {
        a = await AttachClient.connect(mm.opts.attachSocket, { tty: true });
      },
    });
    t.after(() => a.close());
    let out = '';
    a.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitFor('tty and the first size', () => out.includes('24 80'), 5000, () => `output: ${JSON.stringify(out)}`);
    assert.match(out, /^\/dev\/pts\/0\r\n24 80\r\n/);
    m.client.resize(30, 100);
    await sleep(50);
    a.write('\r');
    const ex = await exited(m);
    assert.equal(ex.exitCode, 3);
    assert.match(out, /30 100\r\n$/);
    const log = readLog(m.opts.logPath);
    assert.ok(log.every((e) => e.stream === 'stdout'), 'a tty has only stdout');
    assert.deepEqual(log.map((e) => e.log).filter((l) => /pts|\d+ \d+/.test(l)), ['/dev/pts/0\r\n', '24 80\r\n', '30 100\r\n']);
    await m.rt.delete(m.id);
    await assertGone(m);
  });

  test('an init that exits before berthd names its pid is not missed: exit.json has its pid and code', async (t) => {
    const m = await runMonitored(t, { args: ['/bin/sh', '-c', 'echo early; exit 5'], sendPid: false });
    const ex = await exited(m);
    assert.equal(ex.pid, m.initPid);
    assert.equal(ex.exitCode, 5);
    assert.deepEqual(readLog(m.opts.logPath).map((e) => e.log), ['early\n']);
    await m.rt.delete(m.id);
    await assertGone(m);
  });

  test('log rotation: max-size and max-file give docker\'s file names, each file one entry past max-size at most', async (t) => {
    const m = await runMonitored(t, {
      monitor: { logMaxSize: 4096, logMaxFile: 3 },
      args: ['/bin/sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); done'],
    });
    const ex = await exited(m);
    assert.equal(ex.exitCode, 0);
    const base = `${m.id}-json.log`;
    const names = readdirSync(m.opts.dir).filter((n) => n.startsWith(base)).sort();
    assert.deepEqual(names, [base, `${base}.1`, `${base}.2`]);
    const entry = readFileSync(`${m.opts.dir}/${base}.1`, 'utf8').split('\n')[0]!.length + 1;
    for (const n of [`${base}.1`, `${base}.2`]) {
      const size = (await fs.stat(`${m.opts.dir}/${n}`)).size;
      assert.ok(size >= 4096 && size < 4096 + entry, `${n}: ${size} bytes, max-size 4096`);
    }
    // oldest to newest, the kept lines are consecutive and end with the last one
    const kept = [`${base}.2`, `${base}.1`, base].flatMap((n) => readLog(`${m.opts.dir}/${n}`)).map((e) => Number(/^line (\d+)/.exec(e.log)?.[1]));
    assert.equal(kept.at(-1), 299);
    kept.forEach((v, i) => assert.equal(v, kept[0]! + i, 'no line lost or repeated between files'));
    assert.ok(kept[0]! > 0, 'the oldest lines were rotated away');
    await m.rt.delete(m.id);
    await assertGone(m);
  });

  test('a line longer than 16 KiB is logged in 16 KiB pieces that share the first one\'s time; max-file 1 truncates', async (t) => {
    const opts = await monitorDir(t, 'h9mon-long', { logMaxSize: 20_000 });
    // 40000 bytes then a newline, then a UTF-8 character cut by the 16 KiB boundary, then 100 short lines
    const script = 'head -c 40000 /dev/zero | tr "\\0" a; echo; head -c 16383 /dev/zero | tr "\\0" b; printf "\\303\\251\\n"; ' +
      'i=0; while [ $i -lt 100 ]; do echo "short $i"; i=$((i+1)); done';
    await spawnMonitor(opts, ['/bin/sh', '-c', script]);
    const c = await MonitorClient.connect(opts.ctlSocket, opts.exitPath);
    const ex = await withTimeout(c.exited, 5000, 'the command to exit');
    c.close();
    assert.equal(ex.exitCode, 0);
    assert.deepEqual(readdirSync(opts.dir).filter((n) => n.includes('json.log')), ['h9mon-long-json.log'], 'max-file 1: no rotated file');
    // checked before each entry: the 2nd piece makes the file pass 20000 bytes, the 3rd truncates it,
    // then the line of b's, and the entry after it truncates again; the short lines stay under
    const log = readLog(opts.logPath);
    assert.deepEqual(log.map((e) => e.log), ['\ufffd\n', ...Array.from({ length: 100 }, (_, i) => `short ${i}\n`)]);
    await fs.rm(opts.logPath);
  });

  test('pieces of long lines and invalid UTF-8 across a piece boundary, as docker logs them', async (t) => {
    const opts = await monitorDir(t, 'h9mon-pieces');
    const script = 'head -c 40000 /dev/zero | tr "\\0" a; echo; head -c 16383 /dev/zero | tr "\\0" b; printf "\\303\\251\\n"';
    await spawnMonitor(opts, ['/bin/sh', '-c', script]);
    const c = await MonitorClient.connect(opts.ctlSocket, opts.exitPath);
    await withTimeout(c.exited, 5000, 'the command to exit');
    c.close();
    const log = readLog(opts.logPath);
    assert.deepEqual(log.map((e) => e.log.length), [16384, 16384, 40000 - 2 * 16384 + 1, 16384, 2]);
    assert.ok(log.slice(0, 3).every((e) => e.time === log[0]!.time), 'the pieces of one line share its first piece\'s time');
    assert.equal(log[2]!.log.at(-1), '\n', 'only the last piece ends the line');
    // "é" is C3 A9: the first byte ends the first piece, the second starts the next, each invalid alone
    assert.equal(log[3]!.log.at(-1), '\ufffd');
    assert.equal(log[4]!.log, '\ufffd\n');
  });

  test('bad monitor flags are refused with a reason', async (t) => {
    const opts = await monitorDir(t, 'h9mon-bad', { logMaxSize: 0 });
    await assert.rejects(spawnMonitor(opts, ['/bin/true']), /--log-max-size: "0" is not a number >= 1/);
    assert.equal(existsSync(opts.ctlSocket), false);
  });

  test('a monitor that cannot start fails the create with its reason and leaves nothing', async (t) => {
    const id = uniqueId('h9mon-');
    const bundle = await makeBundle({ args: ['/bin/true'] });
    t.after(() => bundle.cleanup());
    const opts = await monitorDir(t, id);
    opts.logPath = `${opts.dir}/no/such/dir/x-json.log`;
    const rt = new Runtime(ROOT);
    await assert.rejects(rt.create({ id, bundle: bundle.dir, spawnVia: monitorCommand(opts) }),
      new RegExp(`^RuntimeError: create ${id}: monitor: log ${opts.logPath}: No such file or directory$`));
    assert.equal(existsSync(`${ROOT}/${id}`), false);
    assert.deepEqual(cgroupDirsOf(id), []);
  });
});
