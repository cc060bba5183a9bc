/**
 * berth-oci: an OCI runtime with runc 1.1's command line. A thin shell over src/runtime: it
 * parses arguments, calls the library, prints what runc prints, and exits as runc exits.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osc, tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { Runtime, OCI_VERSION } from '../runtime/container.ts';
import { DEFAULT_ROOT, isAlive, statusOf } from '../runtime/state.ts';
import { RuntimeError } from '../runtime/errors.ts';
import { defaultSpec } from '../runtime/spec/default.ts';
import { ConfigError, parseProcess, parseSpec, validateProcess } from '../runtime/spec/validate.ts';
import type { Process, Spec } from '../runtime/spec/types.ts';
import { formatTrace, readTrace } from '../runtime/trace.ts';
import { features } from '../runtime/features.ts';
import { bool, int, list, parseArgs, str, UsageError, type FlagDef, type Parsed } from './args.ts';
import { psTable } from './ps.ts';
import { UPDATE_FLAGS, updateResources } from './update.ts';
import { detectLayout, type CgroupLayout } from '../runtime/cgroups/layout.ts';
import { applyResources, createResources } from '../runtime/cgroups/resources.ts';
import { buildCreatePlan } from '../runtime/plan/build.ts';
import { parseDuration, runEvents } from '../runtime/events.ts';

const VERSION = '0.1.0';

const GLOBAL: FlagDef[] = [
  { names: ['root'], kind: 'string' },
  { names: ['log'], kind: 'string' },
  { names: ['log-format'], kind: 'string' },
  { names: ['debug'], kind: 'bool' },
  { names: ['systemd-cgroup'], kind: 'bool' },
  { names: ['criu'], kind: 'string' },
  { names: ['rootless'], kind: 'string' },
  { names: ['version', 'v'], kind: 'bool' },
  { names: ['help', 'h'], kind: 'bool' },
];

const CREATE: FlagDef[] = [
  { names: ['bundle', 'b'], kind: 'string' },
  { names: ['pid-file'], kind: 'string' },
  { names: ['console-socket'], kind: 'string' },
  { names: ['preserve-fds'], kind: 'int' },
  { names: ['no-pivot'], kind: 'bool' },
  { names: ['no-new-keyring'], kind: 'bool' },
];

const RUN: FlagDef[] = [...CREATE, { names: ['detach', 'd'], kind: 'bool' }, { names: ['keep'], kind: 'bool' }, { names: ['no-subreaper'], kind: 'bool' }];

const EXEC: FlagDef[] = [
  { names: ['process', 'p'], kind: 'string' },
  { names: ['detach', 'd'], kind: 'bool' },
  { names: ['pid-file'], kind: 'string' },
  { names: ['tty', 't'], kind: 'bool' },
  { names: ['console-socket'], kind: 'string' },
  { names: ['cwd'], kind: 'string' },
  { names: ['env', 'e'], kind: 'list' },
  { names: ['user', 'u'], kind: 'string' },
  { names: ['additional-gids', 'g'], kind: 'list' },
  { names: ['cap', 'c'], kind: 'list' },
  { names: ['no-new-privs'], kind: 'bool' },
  { names: ['preserve-fds'], kind: 'int' },
  { names: ['process-label'], kind: 'string' },
  { names: ['apparmor'], kind: 'string' },
  { names: ['ignore-paused'], kind: 'bool' },
  { names: ['cgroup'], kind: 'list' },
];

const USAGE = `berth-oci — an OCI runtime (runc-compatible command line)

usage: berth-oci [global options] command [command options] [arguments...]

commands:
  spec      create a new specification file (config.json)
  create    create a container
  start     execute the user defined process in a created container
  run       create and run a container
  state     output the state of a container
  kill      send a signal to the container's init process
  delete    delete a container and its resources
  pause     suspend all processes of a container (cgroup freezer)
  resume    resume all processes of a paused container
  list      list containers started by berth-oci with the given root
  exec      execute a new process inside the container
  ps        list processes running inside a container
  update    update container resource constraints (runc's flags, or -r FILE|- with JSON)
  events    display container events: OOM kills, cpu, memory, pids, IO and hugetlb statistics
  features  show the enabled features
  trace     show how a container was built, step by step (berth extension)

global options:
  --root value        root directory for container state (default: "${DEFAULT_ROOT}")
  --log value         log file for errors (default: stderr only)
  --log-format value  text or json (default: "text")
  --debug             enable debug output
  --version, -v       print the version
`;

let logFile: string | undefined;
let logJson = false;

function logLine(level: 'error' | 'debug', msg: string): void {
  if (!logFile) return;
  const time = new Date().toISOString();
  const line = logJson ? JSON.stringify({ level, msg, time }) : `time="${time}" level=${level} msg="${msg.replace(/"/g, '\\"')}"`;
  try {
    appendFileSync(logFile, line + '\n');
  } catch { /* the log is best effort */ }
}

function logError(msg: string): void {
  logLine('error', msg);
}

/** --debug: to the log when there is one (as runc), else to stderr */
function logDebug(msg: string): void {
  if (logFile) logLine('debug', msg);
  else process.stderr.write(`berth-oci: debug: ${msg}\n`);
}

function fail(msg: string, code = 1): never {
  logError(msg);
  process.stderr.write(`berth-oci: ${msg}\n`);
  process.exit(code);
}

function needId(p: Parsed, cmd: string): string {
  const id = p.rest[0];
  if (!id) throw new UsageError(`"${cmd}" requires a container id`);
  return id;
}

function parseSignal(s: string | undefined): NodeJS.Signals | number {
  if (!s) return 'SIGTERM';
  if (/^\d+$/.test(s)) return Number(s);
  const name = (s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`) as NodeJS.Signals;
  if (!(name in osc.signals)) throw new UsageError(`unknown signal "${s}"`);
  return name;
}

function execProcess(rt: Runtime, id: string, p: Parsed): Process {
  const file = str(p, 'process');
  if (file) {
    try {
      return parseProcess(readFileSync(file, 'utf8'), file);
    } catch (e) {
      if (e instanceof ConfigError) throw new RuntimeError(`exec ${id}: ${e.message}`);
      throw new RuntimeError(`exec ${id}: reading ${file}: ${(e as Error).message}`);
    }
  }
  const args = p.rest.slice(1);
  if (args.length === 0) throw new UsageError('exec needs a command (or --process FILE)');
  const base = rt.record(id).spec.process;
  const proc: Process = {
    terminal: bool(p, 'tty'),
    user: { uid: base?.user.uid ?? 0, gid: base?.user.gid ?? 0 },
    args,
    env: [...(base?.env ?? []), ...list(p, 'env')],
    cwd: str(p, 'cwd') ?? base?.cwd ?? '/',
    noNewPrivileges: bool(p, 'no-new-privs') || !!base?.noNewPrivileges,
  };
  if (base?.capabilities) proc.capabilities = structuredClone(base.capabilities);
  const extra = list(p, 'cap');
  if (extra.length) {
    const c = (proc.capabilities ??= {});
    for (const set of ['bounding', 'effective', 'permitted', 'ambient'] as const) c[set] = [...new Set([...(c[set] ?? []), ...extra])];
  }
  if (base?.rlimits) proc.rlimits = base.rlimits;
  const user = str(p, 'user');
  if (user) {
    const [u, g] = user.split(':');
    if (!/^\d+$/.test(u ?? '') || (g !== undefined && !/^\d+$/.test(g))) throw new UsageError(`--user takes uid[:gid] as numbers, got "${user}"`);
    proc.user = { uid: Number(u), gid: g !== undefined ? Number(g) : 0 };
  }
  const gids = list(p, 'additional-gids');
  if (gids.length) proc.user.additionalGids = gids.map(Number);
  // asked for, so refused when berth cannot apply them (never dropped)
  const apparmor = str(p, 'apparmor');
  if (apparmor !== undefined) proc.apparmorProfile = apparmor;
  const label = str(p, 'process-label');
  if (label !== undefined) proc.selinuxLabel = label;
  // the flags get the checks of a process.json: id ranges, NUL bytes, security settings
  try {
    return validateProcess(proc, '$', 'exec flags');
  } catch (e) {
    if (e instanceof ConfigError) throw new RuntimeError(`exec ${id}: ${e.message}`);
    throw e;
  }
}

function forwardSignals(pid: number): void {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const) {
    process.on(sig, () => {
      try { process.kill(pid, sig); } catch { /* exited */ }
    });
  }
}

function warm(): void {
  const spec = parseSpec(JSON.stringify(defaultSpec({})), 'config.json');
  spec.process!.terminal = false;
  const layout = detectLayout();
  const plan = buildCreatePlan({
    spec, bundle: '/', rootfs: '/', fifoPath: '/x', statusPath: '/x', tracePath: '/x', cgroupsPath: '/berth/x', layout,
    cgroupDirs: layout.hierarchies.map((h) => ({ dir: `${h.mountPoint}/berth/x`, version: h.version })),
    preserveFds: 0, noPivot: false, noNewKeyring: false, id: 'x', foreground: true,
  });
  plan.plan.encode();
  readTrace('/nonexistent');
  formatTrace([]);
  parseArgs(['--bundle', '.', 'x'], CREATE);
  warmResources(spec);
}

/** Writes typical limits into a throw-away copy of the cgroup files, so that code is in the cache too. */
function warmResources(spec: Spec): void {
  const root = mkdtempSync(`${tmpdir()}/berth-warm-`);
  try {
    const files: Record<string, string[]> = {
      memory: ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'memory.soft_limit_in_bytes', 'memory.swappiness'],
      cpu: ['cpu.shares', 'cpu.cfs_quota_us', 'cpu.cfs_period_us'],
      pids: ['pids.max'],
      devices: ['devices.allow', 'devices.deny', 'devices.list'],
    };
    const layout: CgroupLayout = { kind: 'v1', hierarchies: [] };
    const dirs: string[] = [];
    for (const [ctrl, names] of Object.entries(files)) {
      const dir = `${root}/${ctrl}/x`;
      mkdirSync(dir, { recursive: true });
      for (const n of names) writeFileSync(`${dir}/${n}`, n === 'memory.limit_in_bytes' ? '9223372036854771712' : '');
      layout.hierarchies.push({ name: ctrl, version: 1, mountPoint: `${root}/${ctrl}`, controllers: [ctrl] });
      dirs.push(dir);
    }
    const res = createResources({ linux: { ...spec.linux, resources: { ...spec.linux?.resources, memory: { limit: 1 << 28, swap: 1 << 28 }, cpu: { shares: 512, quota: 50000, period: 100000 }, pids: { limit: 100 } } } });
    applyResources(layout, { path: '/x', dirs, created: [] }, res);
  } catch { /* warming is best effort */ } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<number> {
  const g = parseArgs(argv, GLOBAL);
  logFile = str(g, 'log');
  logJson = str(g, 'log-format') === 'json';
  if (bool(g, 'version')) {
    process.stdout.write(`berth-oci version ${VERSION}\nspec: ${OCI_VERSION}\n`);
    return 0;
  }
  const [cmd, ...args] = g.rest;
  if (!cmd || bool(g, 'help') || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd || bool(g, 'help') ? 0 : 1;
  }
  if (bool(g, 'systemd-cgroup')) throw new RuntimeError('--systemd-cgroup is not supported: berth-oci manages cgroups through cgroupfs only');
  const rt = new Runtime(str(g, 'root') ?? DEFAULT_ROOT, bool(g, 'debug') ? logDebug : undefined);

  switch (cmd) {
    case '__warm':
      // build time: run the parsing and planning code once so the code cache holds it compiled
      warm();
      return 0;
    case 'version':
      process.stdout.write(`berth-oci version ${VERSION}\nspec: ${OCI_VERSION}\n`);
      return 0;
    case 'spec': {
      const p = parseArgs(args, [{ names: ['rootless'], kind: 'bool' }, { names: ['bundle', 'b'], kind: 'string' }]);
      const file = resolve(str(p, 'bundle') ?? '.', 'config.json');
      if (existsSync(file)) throw new RuntimeError('File config.json exists. Remove it first.');
      writeFileSync(file, JSON.stringify(defaultSpec({ rootless: bool(p, 'rootless') }), null, '\t'));
      return 0;
    }
    case 'create': {
      const p = parseArgs(args, CREATE);
      const c = await rt.create({
        id: needId(p, cmd), bundle: str(p, 'bundle') ?? '.', pidFile: str(p, 'pid-file'), consoleSocket: str(p, 'console-socket'),
        preserveFds: int(p, 'preserve-fds'), noPivot: bool(p, 'no-pivot'), noNewKeyring: bool(p, 'no-new-keyring'),
      });
      c.session.detach();
      return 0;
    }
    case 'start': {
      const p = parseArgs(args, []);
      await rt.start(needId(p, cmd));
      return 0;
    }
    case 'run': {
      const p = parseArgs(args, RUN);
      const id = needId(p, cmd);
      const detach = bool(p, 'detach');
      const c = await rt.create({
        id, bundle: str(p, 'bundle') ?? '.', pidFile: str(p, 'pid-file'), consoleSocket: str(p, 'console-socket'),
        preserveFds: int(p, 'preserve-fds'), noPivot: bool(p, 'no-pivot'), noNewKeyring: bool(p, 'no-new-keyring'), foreground: !detach,
      });
      if (!detach) forwardSignals(c.rec.pid);
      try {
        await rt.start(id);
      } catch (e) {
        await rt.delete(id, true).catch(() => undefined);
        throw e;
      }
      if (detach) {
        c.session.detach();
        return 0;
      }
      const exit = await c.session.wait();
      if (!bool(p, 'keep')) await rt.delete(id, true);
      return exit.code ?? 255;
    }
    case 'state': {
      const p = parseArgs(args, []);
      process.stdout.write(JSON.stringify(rt.state(needId(p, cmd)), null, '  ') + '\n');
      return 0;
    }
    case 'kill': {
      const p = parseArgs(args, [{ names: ['all', 'a'], kind: 'bool' }], false);
      rt.kill(needId(p, cmd), parseSignal(p.rest[1]), bool(p, 'all'));
      return 0;
    }
    case 'update': {
      const p = parseArgs(args, UPDATE_FLAGS);
      const id = needId(p, cmd);
      if (p.rest.length > 1) throw new UsageError(`"update" takes exactly one container id, got ${p.rest.length} arguments`);
      const warnings = await rt.update(id, updateResources(p));
      for (const w of warnings) process.stderr.write(`berth-oci: warning: ${w}\n`);
      return 0;
    }
    case 'pause':
    case 'resume': {
      const p = parseArgs(args, []);
      if (cmd === 'pause') await rt.pause(needId(p, cmd));
      else await rt.resume(needId(p, cmd));
      return 0;
    }
    case 'delete': {
      const p = parseArgs(args, [{ names: ['force', 'f'], kind: 'bool' }], false);
      await rt.delete(needId(p, cmd), bool(p, 'force'));
      return 0;
    }
    case 'list': {
      const p = parseArgs(args, [{ names: ['format', 'f'], kind: 'string' }, { names: ['quiet', 'q'], kind: 'bool' }]);
      const all = rt.list();
      if (bool(p, 'quiet')) {
        process.stdout.write(all.map((s) => s.id + '\n').join(''));
        return 0;
      }
      const format = str(p, 'format') ?? 'table';
      if (format === 'json') {
        process.stdout.write(JSON.stringify(all.map((s) => ({ ociVersion: s.ociVersion, id: s.id, pid: s.pid, status: s.status, bundle: s.bundle, rootfs: s.rootfs, created: s.created, owner: s.owner || 'root', ...(s.annotations ? { annotations: s.annotations } : {}) }))) + '\n');
        return 0;
      }
      if (format !== 'table') throw new UsageError(`invalid format option "${format}": use table or json`);
      const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...all.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner || 'root'])];
      const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      process.stdout.write(rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(w[i]! + 1) : c)).join('')).join('\n') + '\n');
      return 0;
    }
    case 'exec': {
      const p = parseArgs(args, EXEC);
      const id = needId(p, cmd);
      const proc = execProcess(rt, id, p);
      const detach = bool(p, 'detach');
      const { pid, session } = await rt.exec(id, proc, {
        consoleSocket: str(p, 'console-socket'), pidFile: str(p, 'pid-file'), preserveFds: int(p, 'preserve-fds'), detach,
      });
      if (detach) {
        session.detach();
        return 0;
      }
      forwardSignals(pid);
      const exit = await session.wait();
      return exit.code ?? 255;
    }
    case 'events': {
      const p = parseArgs(args, [{ names: ['interval'], kind: 'string' }, { names: ['stats'], kind: 'bool' }]);
      const id = needId(p, cmd);
      const iv = str(p, 'interval') ?? '5s';
      let intervalMs: number;
      try {
        intervalMs = parseDuration(iv);
      } catch (e) {
        throw new UsageError(`invalid value "${iv}" for flag -interval: ${(e as Error).message}`);
      }
      if (intervalMs <= 0) throw new RuntimeError('duration interval must be greater than 0');
      const rec = rt.record(id);
      if (statusOf(rt.store, rec) === 'stopped') throw new RuntimeError(`container with id ${id} is not running`);
      // a reader that went away (events | head) ends the command, as it ends runc
      process.stdout.on('error', () => process.exit(0));
      await runEvents({
        id, layout: detectLayout(), placement: rec.cgroup, intervalMs: Math.max(1, intervalMs), statsOnly: bool(p, 'stats'),
        running: () => isAlive(rec),
        write: (line) => process.stdout.write(line + '\n'),
      });
      return 0;
    }
    case 'ps': {
      const p = parseArgs(args, [{ names: ['format', 'f'], kind: 'string' }]);
      const id = needId(p, cmd);
      const pids = rt.pids(id);
      const format = str(p, 'format') ?? 'table';
      if (format === 'json') {
        process.stdout.write(JSON.stringify(pids) + '\n');
        return 0;
      }
      if (format !== 'table') throw new UsageError(`invalid format option "${format}": use table or json`);
      process.stdout.write(psTable(pids, p.rest.slice(1)));
      return 0;
    }
    case 'features': {
      parseArgs(args, []);
      process.stdout.write(JSON.stringify(features(), null, '    ') + '\n');
      return 0;
    }
    case 'trace': {
      const p = parseArgs(args, [{ names: ['format', 'f'], kind: 'string' }]);
      const id = needId(p, cmd);
      rt.record(id);
      const steps = readTrace(rt.store.tracePath(id));
      process.stdout.write(str(p, 'format') === 'json' ? JSON.stringify(steps, null, 2) + '\n' : formatTrace(steps));
      return 0;
    }
    default:
      throw new UsageError(`No help topic for '${cmd}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) fail(e.message, 1);
    if (e instanceof RuntimeError) fail(e.message, e.exitCode);
    fail((e as Error)?.stack ?? String(e));
  },
);
