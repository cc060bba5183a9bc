/**
 * The creation trace: every step of making a container, with times and the values passed to the
 * kernel. berth-init and berth-oci append tab-separated lines to <state>/trace.log:
 * `step  start_ns  end_ns  result  arg…`. This module reads them back and explains them.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { CLONE, MS, RLIMIT, flagNames } from './linux.ts';
import { CAPABILITIES } from './caps.ts';

export interface TraceStep {
  step: string;
  /** which of the seed's seven stages this belongs to */
  stage: string;
  start: number;
  end: number;
  result: number;
  args: string[];
  detail: string;
}

/** Node-side records, buffered and appended once. */
export class TraceRecorder {
  private lines: string[] = [];
  constructor(private readonly path: string) {}

  now(): bigint {
    return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
  }

  step(name: string, t0: bigint, ...args: (string | number)[]): void {
    const clean = args.map((a) => String(a).replace(/[\t\n]/g, ' '));
    this.lines.push([name, t0, this.now(), 0, ...clean].join('\t'));
  }

  flush(): void {
    if (this.lines.length === 0) return;
    appendFileSync(this.path, this.lines.join('\n') + '\n');
    this.lines = [];
  }
}

const STAGE: Readonly<Record<string, string>> = {
  config: 'prepare', plan: 'prepare', spawn: 'clone', trace: 'prepare', mkfifo: 'prepare', fifo: 'prepare',
  console_socket: 'prepare', preserve_fds: 'prepare', setns: 'clone', unshare: 'clone', write_file: 'clone',
  clone: 'clone', cgroup_tasks: 'cgroups', cgroup_into: 'cgroups', bpf_devices: 'cgroups', release: 'exec', wait_go: 'cgroups', cgroup: 'cgroups', userns: 'clone', become_root: 'clone',
  hostname: 'clone', domainname: 'clone', session_keyring: 'security', lo_up: 'network', oom_score_adj: 'cgroups',
  propagation: 'rootfs', rootfs: 'rootfs', mount: 'rootfs', mkdev: 'rootfs', symlink: 'rootfs', mkdir: 'rootfs',
  hooks_sync: 'hooks', hook: 'hooks', hooks: 'hooks', pivot_root: 'pivot_root', chroot: 'pivot_root',
  mount_log: 'prepare', root_dir: 'rootfs', chroot_dir: 'pivot_root',
  sysctl: 'rootfs', mask: 'rootfs', readonly: 'rootfs', remount_root: 'rootfs',
  rlimit: 'security', console: 'exec', resolve_exec: 'exec', seccomp_init: 'security', seccomp_arch: 'security',
  seccomp_flag: 'security', seccomp_rule: 'security', seccomp_export: 'security', seccomp_program: 'security', seccomp_load: 'security', cap_bounding: 'security',
  user: 'security', cwd: 'exec', cap_set: 'security', cap_ambient: 'security', no_new_privs: 'security',
  ready: 'exec', wait_fifo: 'exec', close_fds: 'security', exec: 'exec', start: 'exec', error: 'error',
  exec_status: 'prepare', setsid: 'clone',
};

function caps(mask: string): string {
  const m = BigInt(mask);
  const names = [...CAPABILITIES].filter(([, n]) => (m >> BigInt(n)) & 1n).map(([name]) => name);
  return names.length ? names.join(',') : 'none';
}

/** `result`: the traced one, where a step's explanation has a use for it (a program's length) */
export function explain(step: string, a: string[], result?: number): string {
  switch (step) {
    case 'clone': return `clone(${flagNames(CLONE, Number(a[0]), 'CLONE_')}|SIGCHLD)`;
    case 'bpf_devices': return `BPF_PROG_LOAD(CGROUP_DEVICE, ${Math.floor((a[1]?.length ?? 0) / 16)} insns) + BPF_PROG_ATTACH to ${a[0]}`;
    case 'cgroup_tasks': return `echo 0 > ${a[0]}/tasks (berth-init moves itself; the init inherits it)`;
    case 'cgroup_into': return `open("${a[0]}") for clone3(CLONE_INTO_CGROUP)`;
    case 'release': return 'write(exec.fifo, "0"): `start` may go on; execve closes the fifo';
    case 'unshare': return `unshare(${flagNames(CLONE, Number(a[0]), 'CLONE_')})`;
    case 'setns': return `setns(open("${a[0]}"), ${flagNames(CLONE, Number(a[1]), 'CLONE_')})`;
    case 'propagation': return `mount(NULL, "${a[0]}", NULL, ${flagNames(MS, Number(a[1]), 'MS_')}, NULL)`;
    case 'rootfs': return `mount("${a[0]}", "${a[0]}", NULL, MS_BIND|MS_REC, NULL)`;
    case 'mount': {
      const [src, dst, type, flags, data, prop] = a;
      let s = `mount("${src}", "${dst}", "${type}", ${flagNames(MS, Number(flags), 'MS_')}, "${data}")`;
      if (prop && prop !== '0') s += ` + ${flagNames(MS, Number(prop), 'MS_')}`;
      return s;
    }
    case 'mkdev': {
      const mode = Number(a[1]);
      return `mknod("${a[0]}", ${(mode & 0o170000) === 0o020000 ? 'S_IFCHR' : (mode & 0o170000) === 0o060000 ? 'S_IFBLK' : 'S_IFIFO'}|0${(mode & 0o7777).toString(8)}, ${a[2]})`;
    }
    case 'pivot_root': return 'pivot_root(".", ".") + umount2(old root, MNT_DETACH)';
    case 'mount_log': return `open("${a[0]}", O_APPEND): each mount made on the host is logged there (no mount namespace)`;
    case 'root_dir': return `open("${a[0]}", O_PATH): the root, in the host's mount namespace (no bind, no propagation change)`;
    case 'chroot_dir': return 'chroot(root) + chdir("/") (no mount namespace: no pivot_root)';
    case 'cap_bounding': return `prctl(PR_CAPBSET_DROP) keeping ${caps(a[0]!)}`;
    case 'cap_set': return `capset(effective=${caps(a[0]!)}, permitted=${caps(a[1]!)}, inheritable=${caps(a[2]!)})`;
    case 'cap_ambient': return `prctl(PR_CAP_AMBIENT_RAISE, ${caps(a[0]!)})`;
    case 'no_new_privs': return 'prctl(PR_SET_NO_NEW_PRIVS, 1)';
    case 'seccomp_export': return `libseccomp compiles the filter built by the seccomp records${result ? ` (${result} BPF insns)` : ''} and berth-init sends it to be cached as ${a[0]}`;
    case 'seccomp_program': return `the cached BPF program libseccomp compiled from this profile (${a[1]} insns, key ${a[0]}): no rules to build`;
    case 'seccomp_load': {
      const last = 'the last step, only execve follows';
      if (a[0] === 'cached') return `seccomp(SECCOMP_SET_MODE_FILTER) of the cached program compiled by libseccomp from the profile (${a[2]} insns, key ${a[1]}): ${last}`;
      if (a[0] === 'compiled') return `seccomp(SECCOMP_SET_MODE_FILTER) of the program libseccomp compiled from the profile (${result ? `${result} insns, ` : ''}now cached as ${a[1]}): ${last}`;
      return `seccomp(SECCOMP_SET_MODE_FILTER), the program exported by libseccomp: ${last}`;
    }
    case 'close_fds': return 'close_range(3 + preserved fds, ~0, CLOSE_RANGE_CLOEXEC)';
    case 'setsid': return 'setsid(): a session of its own';
    case 'session_keyring': return `keyctl(KEYCTL_JOIN_SESSION_KEYRING, "${a[0]}") + KEY_USR_SEARCH`;
    case 'exec_status': return `mmap("${a[0]}", MAP_SHARED): where the init reports a failure after ready`;
    case 'seccomp_rule': return `seccomp rule: ${a[1]} -> action 0x${Number(a[0]).toString(16)}${a[2] !== '0' ? ` (${a[2]} arg conditions)` : ''}`;
    case 'user': return `setgroups([${a.slice(4).join(',')}]) setresgid(${a[1]}) setresuid(${a[0]}) umask(0${Number(a[2]).toString(8)})`;
    case 'hostname': return `sethostname("${a[0]}")`;
    case 'lo_up': return 'ioctl(SIOCSIFFLAGS, "lo", IFF_UP)';
    case 'sysctl': return `write /proc/sys/${a[0]} = ${a[1]}`;
    case 'mask': return `mask ${a[0]}`;
    case 'readonly': return `read-only ${a[0]}`;
    case 'rlimit': return `setrlimit(${Object.keys(RLIMIT).find((k) => RLIMIT[k] === Number(a[0])) ?? a[0]}, soft=${a[1]}, hard=${a[2]})`;
    case 'wait_fifo': return 'open(exec.fifo, O_WRONLY): blocked until `start`';
    case 'exec': return `execve("${a.join(' ')}")`;
    default: return a.join(' ');
  }
}

export function readTrace(path: string): TraceStep[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const steps: TraceStep[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [step = '', t0 = '0', t1 = '0', result = '0', ...args] = line.split('\t');
    steps.push({
      step, stage: STAGE[step] ?? 'other', start: Number(t0) / 1e6, end: Number(t1) / 1e6,
      result: Number(result), args, detail: explain(step, args, Number(result)),
    });
  }
  return steps.sort((a, b) => a.start - b.start);
}

export function formatTrace(steps: TraceStep[]): string {
  if (steps.length === 0) return 'no trace recorded\n';
  const t0 = steps[0]!.start;
  const rows = steps.map((s) => [
    `+${(s.start - t0).toFixed(3)}`, `${Math.max(0, s.end - s.start).toFixed(3)}`, s.stage, s.step, s.detail,
  ]);
  const head = ['AT(ms)', 'TOOK(ms)', 'STAGE', 'STEP', 'WHAT'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i < 4 ? c.padEnd(w[i]!) : c)).join('  ');
  return [fmt(head), ...rows.map(fmt)].join('\n') + '\n';
}
