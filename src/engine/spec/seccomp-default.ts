/**
 * berth's default seccomp profile and the resolver that turns a docker-format profile (rules
 * with `includes`/`excludes` on capabilities, architectures and kernel version) into the OCI
 * linux.seccomp of one container.
 *
 * The default is an allow-list with ERRNO(EPERM) for everything else, equivalent in effect to
 * docker 20.10's: what a container may do without capabilities is allowed; what needs a
 * capability (mount, reboot, module loading, clock setting, ptrace of others, ...) is allowed
 * only when the container has that capability in its bounding set, so `--cap-add` lifts the
 * matching block as it does with docker. Creating namespaces (unshare, clone with CLONE_NEW*)
 * needs CAP_SYS_ADMIN; clone3 gets ENOSYS instead of EPERM so that libc falls back to clone,
 * whose flags a filter can inspect. keyctl/add_key/request_key, bpf, kexec_load, userfaultfd,
 * perf_event_open (without CAP_SYS_ADMIN) and the obsolete syscalls are never allowed.
 */
import { release } from 'node:os';
import type { Seccomp, SeccompAction, SeccompArch, SeccompArg, SeccompSyscall } from '../../runtime/spec/types.ts';
import { InvalidParameterError } from '../errors.ts';

/** A rule applies only if every `includes` condition holds and no `excludes` condition does. */
export interface ProfileFilter {
  /** Go GOARCH names: amd64, arm64, arm, 386, s390x, ppc64le, ... */
  arches?: string[];
  caps?: string[];
  minKernel?: string;
}

export interface ProfileRule {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[];
  includes?: ProfileFilter;
  excludes?: ProfileFilter;
}

export interface Profile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  /** the architectures to build the filter for, keyed by the native one */
  archMap?: Array<{ architecture: SeccompArch; subArchitectures?: SeccompArch[] }>;
  architectures?: SeccompArch[];
  syscalls: ProfileRule[];
}

const ENOSYS = 38;

// Namespace-creating clone flags: CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
const CLONE_NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;

/** What an unprivileged process needs, grouped by what it is for. */
const ALLOWED: Record<string, string[]> = {
  process: [
    'execve', 'execveat', 'exit', 'exit_group', 'fork', 'vfork', 'wait4', 'waitid', 'waitpid', 'kill', 'tkill', 'tgkill',
    'getpid', 'getppid', 'gettid', 'getpgid', 'getpgrp', 'setpgid', 'getsid', 'setsid', 'getpriority', 'setpriority',
    'prctl', 'arch_prctl', 'set_tid_address', 'set_robust_list', 'get_robust_list', 'rseq', 'restart_syscall',
    'get_thread_area', 'set_thread_area', 'capget', 'capset', 'getrlimit', 'setrlimit', 'ugetrlimit', 'prlimit64',
    'getrusage', 'times', 'uname', 'sysinfo', 'getcpu', 'getrandom', 'seccomp',
    'pidfd_open', 'pidfd_send_signal', 'process_mrelease', 'membarrier', 'landlock_add_rule',
    'landlock_create_ruleset', 'landlock_restrict_self',
  ],
  ids: [
    'getuid', 'getuid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getegid', 'getegid32', 'getgroups',
    'getgroups32', 'getresuid', 'getresuid32', 'getresgid', 'getresgid32', 'setuid', 'setuid32', 'setgid',
    'setgid32', 'setreuid', 'setreuid32', 'setregid', 'setregid32', 'setresuid', 'setresuid32', 'setresgid',
    'setresgid32', 'setgroups', 'setgroups32', 'setfsuid', 'setfsuid32', 'setfsgid', 'setfsgid32',
  ],
  scheduling: [
    'sched_yield', 'sched_getaffinity', 'sched_setaffinity', 'sched_getattr', 'sched_setattr', 'sched_getparam',
    'sched_setparam', 'sched_getscheduler', 'sched_setscheduler', 'sched_get_priority_max', 'sched_get_priority_min',
    'sched_rr_get_interval', 'sched_rr_get_interval_time64', 'ioprio_get', 'ioprio_set',
  ],
  signals: [
    'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend',
    'rt_sigtimedwait', 'rt_sigtimedwait_time64', 'rt_tgsigqueueinfo', 'sigaltstack', 'sigprocmask', 'sigreturn',
    'signalfd', 'signalfd4', 'pause',
  ],
  memory: [
    'brk', 'mmap', 'mmap2', 'munmap', 'mremap', 'mprotect', 'madvise', 'mincore', 'msync', 'mlock', 'mlock2',
    'mlockall', 'munlock', 'munlockall', 'remap_file_pages', 'memfd_create', 'memfd_secret',
  ],
  time: [
    'alarm', 'getitimer', 'setitimer', 'gettimeofday', 'time', 'nanosleep', 'clock_gettime', 'clock_gettime64',
    'clock_getres', 'clock_getres_time64', 'clock_nanosleep', 'clock_nanosleep_time64', 'clock_adjtime',
    'clock_adjtime64', 'adjtimex', 'timer_create', 'timer_delete', 'timer_getoverrun', 'timer_gettime',
    'timer_gettime64', 'timer_settime', 'timer_settime64', 'timerfd_create', 'timerfd_gettime', 'timerfd_gettime64',
    'timerfd_settime', 'timerfd_settime64',
  ],
  files: [
    'open', 'openat', 'openat2', 'creat', 'close', 'close_range', 'read', 'readv', 'pread64', 'preadv', 'preadv2',
    'write', 'writev', 'pwrite64', 'pwritev', 'pwritev2', 'lseek', '_llseek', 'dup', 'dup2', 'dup3', 'fcntl',
    'fcntl64', 'ioctl', 'flock', 'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range', 'fallocate',
    'fadvise64', 'fadvise64_64', 'readahead', 'truncate', 'truncate64', 'ftruncate', 'ftruncate64',
    'sendfile', 'sendfile64', 'splice', 'tee', 'vmsplice', 'copy_file_range', 'pipe', 'pipe2',
    'stat', 'stat64', 'lstat', 'lstat64', 'fstat', 'fstat64', 'fstatat64', 'newfstatat', 'statx', 'statfs',
    'statfs64', 'fstatfs', 'fstatfs64', 'access', 'faccessat', 'faccessat2', 'getdents', 'getdents64',
    'getcwd', 'chdir', 'fchdir', 'umask', 'mkdir', 'mkdirat', 'rmdir', 'mknod', 'mknodat', 'link', 'linkat',
    'symlink', 'symlinkat', 'unlink', 'unlinkat', 'rename', 'renameat', 'renameat2', 'readlink', 'readlinkat',
    'chmod', 'fchmod', 'fchmodat', 'chown', 'chown32', 'fchown', 'fchown32', 'fchownat', 'lchown', 'lchown32',
    'utime', 'utimes', 'utimensat', 'utimensat_time64', 'futimesat', 'name_to_handle_at',
    'getxattr', 'lgetxattr', 'fgetxattr', 'setxattr', 'lsetxattr', 'fsetxattr', 'listxattr', 'llistxattr',
    'flistxattr', 'removexattr', 'lremovexattr', 'fremovexattr',
    'inotify_init', 'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch', 'fanotify_mark',
  ],
  events: [
    'select', '_newselect', 'pselect6', 'pselect6_time64', 'poll', 'ppoll', 'ppoll_time64', 'epoll_create',
    'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_wait', 'epoll_wait_old', 'epoll_pwait', 'epoll_pwait2',
    'eventfd', 'eventfd2', 'futex', 'futex_time64', 'futex_waitv',
    'io_setup', 'io_destroy', 'io_submit', 'io_cancel', 'io_getevents', 'io_pgetevents', 'io_pgetevents_time64',
    'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  ],
  ipc: [
    'ipc', 'msgget', 'msgctl', 'msgsnd', 'msgrcv', 'semget', 'semctl', 'semop', 'semtimedop', 'semtimedop_time64',
    'shmget', 'shmctl', 'shmat', 'shmdt', 'mq_open', 'mq_unlink', 'mq_notify', 'mq_getsetattr', 'mq_timedsend',
    'mq_timedsend_time64', 'mq_timedreceive', 'mq_timedreceive_time64',
  ],
  network: [
    'socket', 'socketpair', 'socketcall', 'bind', 'connect', 'listen', 'accept', 'accept4', 'getsockname',
    'getpeername', 'getsockopt', 'setsockopt', 'send', 'sendto', 'sendmsg', 'sendmmsg', 'recv', 'recvfrom',
    'recvmsg', 'recvmmsg', 'recvmmsg_time64', 'shutdown',
  ],
};

/** Syscalls allowed only with a capability in the bounding set: the capability's own syscalls. */
const BY_CAPABILITY: Array<[cap: string, names: string[]]> = [
  ['CAP_DAC_READ_SEARCH', ['open_by_handle_at']],
  ['CAP_SYS_ADMIN', [
    'bpf', 'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'lookup_dcookie',
    'mount', 'mount_setattr', 'move_mount', 'open_tree', 'perf_event_open', 'quotactl', 'quotactl_fd',
    'setdomainname', 'sethostname', 'setns', 'syslog', 'umount', 'umount2', 'unshare',
  ]],
  ['CAP_SYS_BOOT', ['reboot']],
  ['CAP_SYS_CHROOT', ['chroot']],
  ['CAP_SYS_MODULE', ['init_module', 'finit_module', 'delete_module']],
  ['CAP_SYS_PACCT', ['acct']],
  ['CAP_SYS_PTRACE', ['ptrace', 'kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev']],
  ['CAP_SYS_RAWIO', ['iopl', 'ioperm']],
  ['CAP_SYS_TIME', ['settimeofday', 'stime', 'clock_settime']],
  ['CAP_SYS_TTY_CONFIG', ['vhangup']],
  ['CAP_SYS_NICE', ['get_mempolicy', 'set_mempolicy', 'mbind']],
  ['CAP_SYSLOG', ['syslog']],
];

/** Architecture-specific syscalls a normal program of that architecture uses. */
const BY_ARCH: Array<[arches: string[], names: string[]]> = [
  [['amd64', 'x32', '386'], ['modify_ldt']],
  [['arm', 'arm64'], ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls']],
  [['ppc64le'], ['sync_file_range2']],
  [['s390', 's390x'], ['s390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr']],
];

/** personality(2) personas that change nothing security-relevant: PER_LINUX, PER_LINUX32, UNAME26 and the query. */
const SAFE_PERSONALITIES = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

/** berth's default profile, in the docker profile format the resolver reads. */
export function defaultProfile(): Profile {
  const rules: ProfileRule[] = [{ names: Object.values(ALLOWED).flat(), action: 'SCMP_ACT_ALLOW' }];
  // ptrace of one's own children: docker allows it from 4.8, the first kernel whose seccomp
  // re-checks after a tracer changed a syscall (before, ptrace could bypass the filter)
  rules.push({ names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } });
  for (const p of SAFE_PERSONALITIES) {
    rules.push({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: p, op: 'SCMP_CMP_EQ' }] });
  }
  for (const [arches, names] of BY_ARCH) rules.push({ names, action: 'SCMP_ACT_ALLOW', includes: { arches } });
  for (const [cap, names] of BY_CAPABILITY) rules.push({ names, action: 'SCMP_ACT_ALLOW', includes: { caps: [cap] } });
  // without CAP_SYS_ADMIN: clone only without namespace flags (s390 swaps clone's first two arguments)
  const cloneNoNs = (index: number): SeccompArg[] => [{ index, value: CLONE_NS_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }];
  rules.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: cloneNoNs(0), excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] } });
  rules.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: cloneNoNs(1), includes: { arches: ['s390', 's390x'] }, excludes: { caps: ['CAP_SYS_ADMIN'] } });
  // clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc use clone
  rules.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, excludes: { caps: ['CAP_SYS_ADMIN'] } });
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
      { architecture: 'SCMP_ARCH_S390X', subArchitectures: ['SCMP_ARCH_S390'] },
      { architecture: 'SCMP_ARCH_PPC64LE' },
      { architecture: 'SCMP_ARCH_RISCV64' },
    ],
    syscalls: rules,
  };
}

/** Node's process.arch → Go's GOARCH (the names profiles use). */
export function goArch(nodeArch: string = process.arch): string {
  return ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', s390x: 's390x', ppc64: 'ppc64le', riscv64: 'riscv64' } as Record<string, string>)[nodeArch] ?? nodeArch;
}

const SCMP_ARCH_OF: Record<string, SeccompArch> = {
  amd64: 'SCMP_ARCH_X86_64', '386': 'SCMP_ARCH_X86', arm64: 'SCMP_ARCH_AARCH64', arm: 'SCMP_ARCH_ARM',
  s390x: 'SCMP_ARCH_S390X', ppc64le: 'SCMP_ARCH_PPC64LE', riscv64: 'SCMP_ARCH_RISCV64',
};

/** "6.1.0-18-amd64" → [6, 1]; compares major.minor as docker's kernel filter does. */
function kernelAtLeast(kernel: string, min: string): boolean {
  const parse = (s: string): [number, number] => {
    const m = /^(\d+)\.(\d+)/.exec(s);
    return m ? [Number(m[1]), Number(m[2])] : [0, 0];
  };
  const [a, b] = parse(kernel);
  const [x, y] = parse(min);
  return a > x || (a === x && b >= y);
}

export interface ResolveContext {
  /** the container's bounding set (full CAP_ names) */
  caps: readonly string[];
  /** GOARCH; default this machine's */
  arch?: string;
  /** uname -r; default this machine's */
  kernel?: string;
}

/** The OCI seccomp of a container: the profile's rules whose conditions hold for it. */
export function resolveProfile(profile: Profile, ctx: ResolveContext): Seccomp {
  const arch = ctx.arch ?? goArch();
  const kernel = ctx.kernel ?? release();
  const caps = new Set(ctx.caps);
  const out: Seccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.architectures?.length) out.architectures = [...profile.architectures];
  else {
    const native = SCMP_ARCH_OF[arch];
    const entry = profile.archMap?.find((a) => a.architecture === native);
    if (entry) out.architectures = [entry.architecture, ...(entry.subArchitectures ?? [])];
  }
  const syscalls: SeccompSyscall[] = [];
  for (const rule of profile.syscalls) {
    const ex = rule.excludes ?? {};
    if (ex.arches?.includes(arch)) continue;
    if (ex.caps?.some((c) => caps.has(c))) continue;
    if (ex.minKernel && kernelAtLeast(kernel, ex.minKernel)) continue;
    const inc = rule.includes ?? {};
    if (inc.arches && inc.arches.length > 0 && !inc.arches.includes(arch)) continue;
    if (inc.caps && !inc.caps.every((c) => caps.has(c))) continue;
    if (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel)) continue;
    const s: SeccompSyscall = { names: [...rule.names], action: rule.action };
    if (rule.errnoRet !== undefined) s.errnoRet = rule.errnoRet;
    if (rule.args && rule.args.length > 0) s.args = rule.args.map((a) => ({ ...a }));
    syscalls.push(s);
  }
  out.syscalls = syscalls;
  return out;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A profile given with `--security-opt seccomp=FILE` (the docker CLI sends the file's content):
 * docker's format (`names` or `name`, `archMap` or `architectures`, includes/excludes with
 * `minKernel`). Errors say where in the JSON.
 */
export function parseProfile(json: string): Profile {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new InvalidParameterError(`Decoding seccomp profile failed: ${(e as Error).message}`);
  }
  const bad = (path: string, why: string): never => {
    throw new InvalidParameterError(`seccomp profile: ${path} ${why}`);
  };
  if (!isObj(raw)) return bad('$', 'must be an object');
  if (typeof raw.defaultAction !== 'string') return bad('$.defaultAction', 'must be a string such as "SCMP_ACT_ERRNO"');
  if (raw.architectures !== undefined && raw.archMap !== undefined && (raw.architectures as unknown[]).length && (raw.archMap as unknown[]).length) {
    return bad('$', "has both 'architectures' and 'archMap', use either 'architectures' or 'archMap'");
  }
  const strs = (v: unknown, path: string): string[] | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) return bad(path, 'must be an array of strings');
    return v as string[];
  };
  const filter = (v: unknown, path: string): ProfileFilter | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!isObj(v)) return bad(path, 'must be an object');
    const f: ProfileFilter = {};
    const arches = strs(v.arches, `${path}.arches`);
    const caps = strs(v.caps, `${path}.caps`);
    if (arches) f.arches = arches;
    if (caps) f.caps = caps;
    if (v.minKernel !== undefined && v.minKernel !== '') {
      if (typeof v.minKernel !== 'string' || !/^\d+\.\d+/.test(v.minKernel)) return bad(`${path}.minKernel`, 'must be a kernel version such as "4.8"');
      f.minKernel = v.minKernel;
    }
    return f;
  };
  const profile: Profile = { defaultAction: raw.defaultAction as SeccompAction, syscalls: [] };
  if (typeof raw.defaultErrnoRet === 'number') profile.defaultErrnoRet = raw.defaultErrnoRet;
  const archs = strs(raw.architectures, '$.architectures');
  if (archs) profile.architectures = archs as SeccompArch[];
  if (Array.isArray(raw.archMap)) {
    profile.archMap = raw.archMap.map((a, i) => {
      if (!isObj(a) || typeof a.architecture !== 'string') return bad(`$.archMap[${i}].architecture`, 'must be a string');
      return { architecture: a.architecture as SeccompArch, subArchitectures: (strs(a.subArchitectures, `$.archMap[${i}].subArchitectures`) ?? []) as SeccompArch[] };
    });
  }
  const calls = raw.syscalls ?? [];
  if (!Array.isArray(calls)) return bad('$.syscalls', 'must be an array');
  calls.forEach((c, i) => {
    const path = `$.syscalls[${i}]`;
    if (!isObj(c)) return bad(path, 'must be an object');
    const names = strs(c.names, `${path}.names`);
    if (typeof c.name === 'string' && c.name !== '' && names?.length) return bad(path, "has both 'name' and 'names', use either 'name' or 'names'");
    const all = names ?? (typeof c.name === 'string' && c.name !== '' ? [c.name] : []);
    if (typeof c.action !== 'string') return bad(`${path}.action`, 'must be a string');
    const rule: ProfileRule = { names: all, action: c.action as SeccompAction };
    if (typeof c.errnoRet === 'number') rule.errnoRet = c.errnoRet;
    if (c.args !== undefined && c.args !== null) {
      if (!Array.isArray(c.args)) return bad(`${path}.args`, 'must be an array');
      rule.args = c.args.map((a, j) => {
        if (!isObj(a) || typeof a.index !== 'number' || typeof a.value !== 'number' || typeof a.op !== 'string') {
          return bad(`${path}.args[${j}]`, 'must have a numeric index and value and a string op');
        }
        return { index: a.index, value: a.value, valueTwo: typeof a.valueTwo === 'number' ? a.valueTwo : 0, op: a.op } as SeccompArg;
      });
    }
    const inc = filter(c.includes, `${path}.includes`);
    const exc = filter(c.excludes, `${path}.excludes`);
    if (inc) rule.includes = inc;
    if (exc) rule.excludes = exc;
    profile.syscalls.push(rule);
  });
  return profile;
}
