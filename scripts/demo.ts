// The demo behind `npm start`: the seed's "Real-World Container Flow" on this machine, no internet
// needed. An image made from Debian's busybox-static goes through a real registry (Debian's
// docker-registry on 127.0.0.1, started here), then berthd runs it as containers: run, ps, exec,
// logs, a memory limit the kernel enforces, explain, rm. Every step is a berth command, printed
// before it runs; the first one starts berthd (berth's autostart). Everything lives under a
// private root in /var/tmp, and everything the demo started is stopped and removed at the end,
// on failure too: containers, berthd, the registry, the files.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

import { busyboxRootfs } from '../test/fixtures/busybox.ts';
import { LocalRegistry } from '../test/fixtures/registry.ts';

const BERTH = join(import.meta.dirname, '..', 'dist', 'berth.js');
const T = mkdtempSync('/var/tmp/berth-demo-');
const root = join(T, 'berth'); // berth --root: the store, and berthd's data root (its exec root is root/run)
const registry = new LocalRegistry();

/** An argument as a shell would need it typed. */
const shq = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);

/** Runs and echoes `berth ARGS` (shown without --root, as a user would type it); its exit status. */
function berth(...args: string[]): number {
  if (interrupted) throw new Error('demo: interrupted');
  console.log(`\n$ berth ${args.map(shq).join(' ')}`);
  return spawnSync('node', [BERTH, '--root', root, ...args], { stdio: ['ignore', 'inherit', 'inherit'] }).status ?? 1;
}
/** `berth ARGS` unechoed, for the demo's own bookkeeping: its stdout (its stderr is the user's). */
function berthQuiet(...args: string[]): string {
  const r = spawnSync('node', [BERTH, '--root', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return r.status === 0 ? r.stdout : '';
}
function must(code: number, what: string): void {
  if (code !== 0) throw new Error(`demo: ${what} failed (exit ${code})`);
}
// Ctrl-C reaches the running berth too (one process group): it ends that step, and the clean-up
// below still runs instead of Node dying on the signal.
let interrupted = false;
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(sig, () => {
    interrupted = true;
    process.exitCode = code;
  });
}
const say = (text: string): void => console.log(`\n# ${text}`);

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The pid of the berthd serving `root`, if one runs. */
function daemonPid(): number | undefined {
  const file = join(root, 'run', 'berthd.pid');
  const pid = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : 0;
  return pid > 0 && alive(pid) ? pid : undefined;
}

/** SIGTERMs the demo's berthd and waits for it to exit (SIGKILL after 15 s). */
async function stopDaemon(): Promise<void> {
  const pid = daemonPid();
  if (pid === undefined) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await sleep(20);
  }
}

/**
 * After a failure that left berthd unable to remove the containers: whatever is still the demo's.
 * Its containers are the ids under its data root: their processes (in their cgroups /berth/<id>)
 * are killed and the cgroups removed (and berth's shared parent /berth, if that leaves it empty);
 * processes whose command line names the demo's directory (a berth-monitor, a berthd that would
 * not stop) are killed; mounts under it (a container's overlay rootfs) are unmounted.
 */
async function sweep(): Promise<void> {
  const CG = '/sys/fs/cgroup';
  const ids = existsSync(join(root, 'containers')) ? readdirSync(join(root, 'containers')).filter((d) => /^[0-9a-f]{64}$/.test(d)) : [];
  const hierarchies = ['', ...readdirSync(CG)].map((h) => join(CG, h, 'berth')).filter((d) => existsSync(d));
  const cgroups = hierarchies.flatMap((b) => ids.map((id) => join(b, id))).filter((d) => existsSync(d));
  const pidsOf = (dir: string): number[] => {
    try {
      return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const kill = (pid: number): void => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  };
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(T)) kill(Number(p));
    } catch {}
  }
  for (const dir of cgroups) pidsOf(dir).forEach(kill);
  const deadline = Date.now() + 5_000;
  while (cgroups.some((d) => pidsOf(d).length > 0) && Date.now() < deadline) await sleep(20);
  for (const dir of [...cgroups, ...hierarchies]) {
    try {
      rmdirSync(dir);
    } catch {}
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === T || m.startsWith(`${T}/`)).sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
}

let ok = false;
try {
  await registry.start();
  const image = `${registry.domain}/demo/busybox:1`;
  console.log(`berth, a container engine: a tour on this machine, no internet needed.
a registry: Debian's docker-registry on ${registry.url}; an image made from Debian's busybox-static.
every berth command below runs with --root ${root}: a private store and a private berthd,
which the first command starts (berth starts berthd when none answers, and says so once).`);
  await busyboxRootfs(join(T, 'rootfs'));
  must(spawnSync('tar', ['-C', join(T, 'rootfs'), '-cf', join(T, 'rootfs.tar'), '.']).status ?? 1, 'tar');

  say('an image: a tarball of busybox made into a one-layer image, sent to the registry, deleted here, pulled back');
  must(berth('import', '--change', 'CMD ["sh"]', join(T, 'rootfs.tar'), image), 'import');
  must(berth('push', image), 'push');
  must(berth('rmi', image), 'rmi');
  must(berth('pull', image), 'pull');
  must(berth('images'), 'images');

  say('a container in the background: busybox httpd serving a page it writes first');
  const web = 'mkdir /www && echo "hello from $(hostname)" > /www/index.html && echo "httpd: serving /www on port 80" && exec httpd -f -v -p 80 -h /www';
  must(berth('run', '-d', '--name', 'web', '--memory', '64m', image, 'sh', '-c', web), 'run -d');
  must(berth('ps'), 'ps');

  say('exec: more processes in the same container (the network is "none": its own loopback only)');
  must(berth('exec', 'web', 'wget', '-qO-', 'http://127.0.0.1/'), 'exec wget');
  must(berth('exec', 'web', 'ps'), 'exec ps');
  must(berth('logs', 'web'), 'logs');

  say('a memory limit, enforced by the kernel: tail keeps the last 10 lines, and 64 MiB of zeros is one line');
  const hog = 'set -o pipefail; head -c 64m /dev/zero | tail | wc -c';
  must(berth('run', '--rm', image, 'sh', '-c', hog), 'run without a limit');
  const oom = berth('run', '--name', 'hog', '--memory', '16m', image, 'sh', '-c', hog);
  console.log(`(exit status ${oom}: 128 + SIGKILL, the OOM killer's; wc counted the nothing tail wrote)`);
  if (oom !== 137) throw new Error(`demo: the 16m container exited ${oom}, not 137 (OOM-killed)`);
  must(berth('inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'hog'), 'inspect');
  must(berth('rm', 'hog'), 'rm hog');

  say('how berthd made the container, step by step, with real values and times');
  must(berth('explain', 'web'), 'explain');

  say('clean-up');
  must(berth('rm', '-f', 'web'), 'rm -f web');
  must(berth('ps', '-a'), 'ps -a');
  ok = true;
} catch (e) {
  console.error(`\n${interrupted ? 'demo: interrupted' : (e as Error).message}; cleaning up`);
  process.exitCode ||= 1;
} finally {
  if (!ok) {
    // the daemon answers (or berth starts it again, and it reconciles): it removes the containers
    const ids = berthQuiet('ps', '-aq').split('\n').filter(Boolean);
    if (ids.length > 0) berthQuiet('rm', '-f', ...ids);
  }
  await stopDaemon();
  if (!ok) await sweep();
  await registry.stop();
  rmSync(T, { recursive: true, force: true });
  if (ok) console.log(`\nberthd stopped; ${T} and the registry removed.`);
}
