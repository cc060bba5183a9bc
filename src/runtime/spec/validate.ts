// Hand-written validator for the OCI runtime-spec config.json.
//
// parseSpec() parses the text, walks every field we know about and throws a
// ConfigError naming the JSON path of the first bad value. Properties we do not
// know are left alone (runtime-spec: "implementations MUST ignore unknown
// properties"). An optional field that holds JSON `null` is treated the way Go's
// encoding/json (and so runc) treats it: as absent; the key is deleted so the
// returned object matches the TypeScript types.

import { statSync } from 'node:fs';
import { CAPABILITIES, capName, capNumber } from '../caps.ts';
import { InexactNumber, JsonSyntaxError, parseExact } from '../json.ts';
import { apparmorEnabled, selinuxEnabled } from '../lsm.ts';
import type {
  BlockIO,
  Capabilities,
  CpuResources,
  Device,
  DeviceCgroupRule,
  Hook,
  Hooks,
  IdMapping,
  Linux,
  MemoryResources,
  Mount,
  Namespace,
  NamespaceType,
  Process,
  Resources,
  Rlimit,
  Seccomp,
  SeccompArg,
  SeccompSyscall,
  Spec,
  ThrottleDevice,
  User,
} from './types.ts';

export class ConfigError extends Error {
  readonly file: string;
  /** JSON path of the offending value, e.g. `$.process.args[2]`. */
  readonly jsonPath: string;
  /** The message without the `file: path: ` prefix. */
  readonly detail: string;
  /** Set for JSON syntax errors (1-based line and column, 0-based offset). */
  readonly line?: number;
  readonly column?: number;
  readonly position?: number;

  constructor(file: string, jsonPath: string, detail: string, where?: { line: number; column: number; position: number }) {
    super(`${file}: ${jsonPath}: ${detail}`);
    this.name = 'ConfigError';
    this.file = file;
    this.jsonPath = jsonPath;
    this.detail = detail;
    if (where) {
      this.line = where.line;
      this.column = where.column;
      this.position = where.position;
    }
  }
}

// ---------------------------------------------------------------------------
// value sets

export const RLIMIT_TYPES: ReadonlySet<string> = new Set([
  'RLIMIT_AS',
  'RLIMIT_CORE',
  'RLIMIT_CPU',
  'RLIMIT_DATA',
  'RLIMIT_FSIZE',
  'RLIMIT_LOCKS',
  'RLIMIT_MEMLOCK',
  'RLIMIT_MSGQUEUE',
  'RLIMIT_NICE',
  'RLIMIT_NOFILE',
  'RLIMIT_NPROC',
  'RLIMIT_RSS',
  'RLIMIT_RTPRIO',
  'RLIMIT_RTTIME',
  'RLIMIT_SIGPENDING',
  'RLIMIT_STACK',
]);

export const NAMESPACE_TYPES: ReadonlySet<string> = new Set(['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time']);

export const ROOTFS_PROPAGATIONS: ReadonlySet<string> = new Set([
  'private',
  'rprivate',
  'slave',
  'rslave',
  'shared',
  'rshared',
  'unbindable',
  'runbindable',
]);

export const SECCOMP_ACTIONS: ReadonlySet<string> = new Set([
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
]);

export const SECCOMP_OPS: ReadonlySet<string> = new Set([
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
]);

export const SECCOMP_ARCHES: ReadonlySet<string> = new Set([
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_LOONGARCH64',
  'SCMP_ARCH_M68K',
  'SCMP_ARCH_SH',
  'SCMP_ARCH_SHEB',
]);

export const SECCOMP_FLAGS: ReadonlySet<string> = new Set([
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
]);

const DEVICE_TYPES: ReadonlySet<string> = new Set(['c', 'b', 'u', 'p']);
const DEVICE_RULE_TYPES: ReadonlySet<string> = new Set(['a', 'c', 'b']);
const IOPRIO_CLASSES: ReadonlySet<string> = new Set(['IOPRIO_CLASS_RT', 'IOPRIO_CLASS_BE', 'IOPRIO_CLASS_IDLE']);
const SCHED_POLICIES: ReadonlySet<string> = new Set([
  'SCHED_OTHER',
  'SCHED_FIFO',
  'SCHED_RR',
  'SCHED_BATCH',
  'SCHED_ISO',
  'SCHED_IDLE',
  'SCHED_DEADLINE',
]);
const SCHED_FLAGS: ReadonlySet<string> = new Set([
  'SCHED_FLAG_RESET_ON_FORK',
  'SCHED_FLAG_RECLAIM',
  'SCHED_FLAG_DL_OVERRUN',
  'SCHED_FLAG_KEEP_POLICY',
  'SCHED_FLAG_KEEP_PARAMS',
  'SCHED_FLAG_UTIL_CLAMP_MIN',
  'SCHED_FLAG_UTIL_CLAMP_MAX',
]);
const PERSONALITY_DOMAINS: ReadonlySet<string> = new Set(['LINUX', 'LINUX32']);
const TIME_CLOCKS: ReadonlySet<string> = new Set(['monotonic', 'boottime']);
const CAP_SETS = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const;
const HOOK_NAMES = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;

const U32_MAX = 0xffff_ffff;
const I32_MIN = -0x8000_0000;
const I32_MAX = 0x7fff_ffff;
/** runc (libcontainer/user): ids above this are refused, for 32-bit systems; 4294967295 is "no id" to the kernel */
const ID_MAX = 0x7fff_ffff;
/** the kernel's limit of lines in uid_map / gid_map (UID_GID_MAP_MAX_EXTENTS) */
const MAX_ID_EXTENTS = 340;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U64_MAX = 2n ** 64n - 1n;

// ---------------------------------------------------------------------------
// helpers. They throw Invalid(path, detail); the entry points turn that into a
// ConfigError carrying the file name.

class Invalid extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

type Obj = Record<string, unknown>;

function fail(path: string, detail: string): never {
  throw new Invalid(path, detail);
}

/** `$.a` + `b` → `$.a.b`; keys that are not identifiers use `["k"]`. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function obj(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, `expected an object, got ${typeName(v)}`);
  return v as Obj;
}

function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, `expected an array, got ${typeName(v)}`);
  return v;
}

/** A string that reaches the kernel or berth-init's plan, where a NUL byte would cut it short. */
function str(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(path, `expected a string, got ${typeName(v)}`);
  if (v.includes('\0')) fail(path, `must not contain a NUL byte, got ${JSON.stringify(v)}`);
  return v;
}

/** A string only carried along (annotations): any text. */
function text(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(path, `expected a string, got ${typeName(v)}`);
  return v;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, `expected a boolean, got ${typeName(v)}`);
  return v;
}

function rangeName(min: bigint, max: bigint): string {
  if (max === I64_MAX) return ' (int64)';
  if (min === 0n && max === U64_MAX) return ' (uint64)';
  if (min === 0n && max === BigInt(U32_MAX)) return ' (uint32)';
  return '';
}

/**
 * An integer within [min, max], checked exactly: parseSpec keeps integers beyond 2^53 as bigints
 * (json.ts), so 2^64 is not mistaken for uint64's maximum. Returns the value as parsed: a number,
 * or a bigint beyond the safe integers. Defaults to int64's range.
 */
function int64(v: unknown, path: string, min: bigint = I64_MIN, max: bigint = I64_MAX): number | bigint {
  if (v instanceof InexactNumber) fail(path, `expected an integer, got ${v.literal}`);
  if (typeof v !== 'number' && typeof v !== 'bigint') fail(path, `expected an integer, got ${typeName(v)}`);
  if (typeof v === 'number' && !Number.isInteger(v)) fail(path, `expected an integer, got ${v}`);
  const b = BigInt(v);
  if (b < min || b > max) {
    if (min === 0n) fail(path, `expected a non-negative integer <= ${max}${rangeName(min, max)}, got ${v}`);
    fail(path, `expected an integer in ${min}..${max}${rangeName(min, max)}, got ${v}`);
  }
  return v;
}

function uint64(v: unknown, path: string): number | bigint {
  return int64(v, path, 0n, U64_MAX);
}

/** An integer within [min, max], both safe integers: always a number. */
function int(v: unknown, path: string, min: number, max: number): number {
  return Number(int64(v, path, BigInt(min), BigInt(max)));
}

function uint(v: unknown, path: string, max: number): number {
  return int(v, path, 0, max);
}

function u32(v: unknown, path: string): number {
  return int(v, path, 0, U32_MAX);
}

/** A uid or gid, in runc's range (libcontainer/user: "uids and gids must be in range 0-2147483647"). */
function id(v: unknown, path: string): number {
  if ((typeof v === 'number' || typeof v === 'bigint') && Number.isInteger(Number(v)) && (v < 0 || v > ID_MAX)) {
    fail(path, `uids and gids must be in range 0-${ID_MAX}, got ${v}`);
  }
  return int(v, path, 0, ID_MAX);
}

function strArr(v: unknown, path: string): string[] {
  const a = arr(v, path);
  a.forEach((x, i) => str(x, joinPath(path, i)));
  return a as string[];
}

function strMap(v: unknown, path: string): Record<string, string> {
  const o = obj(v, path);
  for (const [k, x] of Object.entries(o)) {
    const kp = joinPath(path, k);
    if (k.includes('\0')) fail(kp, 'key must not contain a NUL byte');
    str(x, kp);
  }
  return o as Record<string, string>;
}

function oneOf<T extends string>(v: unknown, path: string, set: ReadonlySet<string>, what: string): T {
  const s = str(v, path);
  if (!set.has(s)) fail(path, `unknown ${what} ${JSON.stringify(s)} (expected one of ${[...set].join(', ')})`);
  return s as T;
}

function absPath(v: unknown, path: string, what = 'path'): string {
  const s = str(v, path);
  if (!s.startsWith('/')) fail(path, `${what} must be absolute, got ${JSON.stringify(s)}`);
  return s;
}

/** Optional field: undefined if absent (a JSON null is deleted and counts as absent). */
function opt<T>(o: Obj, key: string, path: string, check: (v: unknown, path: string) => T): T | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (v === null) {
    delete o[key];
    return undefined;
  }
  return check(v, joinPath(path, key));
}

function req<T>(o: Obj, key: string, path: string, check: (v: unknown, path: string) => T): T {
  if (o[key] === undefined) fail(joinPath(path, key), 'required field is missing');
  return check(o[key], joinPath(path, key));
}

function each<T>(v: unknown, path: string, check: (v: unknown, path: string) => T): T[] {
  const a = arr(v, path);
  return a.map((x, i) => check(x, joinPath(path, i)));
}

/**
 * A security setting berth-oci cannot apply is an error, never a silent success (an empty string
 * asks for nothing, as in runc).
 */
function unsupported(v: string, path: string, why: string): string {
  if (v !== '') fail(path, `${why}: the setting cannot be applied`);
  return v;
}

function unsupportedLsm(v: string, path: string, lsm: 'apparmor' | 'selinux'): string {
  if (v === '') return v;
  if (lsm === 'apparmor') {
    if (!apparmorEnabled()) fail(path, `AppArmor profile ${JSON.stringify(v)} requested, but AppArmor is not enabled on this host (/sys/module/apparmor/parameters/enabled is missing or not Y)`);
    fail(path, `berth-oci cannot apply AppArmor profiles: refusing to run without the requested profile ${JSON.stringify(v)}`);
  }
  // runc's wording when SELinux is off
  if (!selinuxEnabled()) fail(path, `selinux label ${JSON.stringify(v)} is specified in config, but selinux is disabled or not supported`);
  fail(path, `berth-oci cannot apply SELinux labels: refusing to run without the requested label ${JSON.stringify(v)}`);
}

function validateCgroupsPath(v: unknown, path: string): string {
  const s = str(v, path);
  if (s.includes(':')) fail(path, `${JSON.stringify(s)} looks like a systemd slice:prefix:name path; berth-oci manages cgroupfs only (no --systemd-cgroup)`);
  if (s.split('/').some((x) => x === '..' || x === '.')) fail(path, `${JSON.stringify(s)} must not contain . or .. components`);
  return s;
}

/**
 * A sysctl key in its dotted form, as runc reads it: "/" may separate the parts instead of ".",
 * and then a "." is part of a name (net/ipv4/conf/eno2.100/rp_filter is net.ipv4.conf.eno2/100.rp_filter).
 */
export function sysctlName(key: string): string {
  const first = key.search(/[./]/);
  if (first < 0 || key[first] === '.') return key;
  return key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}

/** The file of a sysctl key under /proc/sys; `path` is the key's JSON path for the error. */
export function sysctlFile(key: string, path = '$.linux.sysctl'): string {
  const parts = sysctlName(key).split('.').map((p) => p.replace(/\//g, '.'));
  if (parts.some((p) => p === '' || p === '.' || p === '..')) fail(path, `invalid sysctl key ${JSON.stringify(key)}: every part must be a name (no empty, . or .. parts)`);
  return parts.join('/');
}

// ---------------------------------------------------------------------------
// process

function validateUser(v: unknown, path: string): User {
  const o = obj(v, path);
  req(o, 'uid', path, id);
  req(o, 'gid', path, id);
  opt(o, 'umask', path, (x, p) => uint(x, p, 0o7777));
  opt(o, 'additionalGids', path, (x, p) => each(x, p, id));
  opt(o, 'username', path, str);
  return o as unknown as User;
}

function validateCapabilities(v: unknown, path: string): Capabilities {
  const o = obj(v, path);
  for (const set of CAP_SETS) {
    opt(o, set, path, (x, p) =>
      each(x, p, (c, cp) => {
        const name = str(c, cp);
        if (!CAPABILITIES.has(name)) {
          const n = capNumber(name);
          const hint = n !== undefined ? ` (config.json needs the full upper-case name: ${capName(n)})` : '';
          fail(cp, `unknown capability ${JSON.stringify(name)} in ${p}${hint}`);
        }
        return name;
      }),
    );
  }
  return o as Capabilities;
}

function validateRlimits(v: unknown, path: string): Rlimit[] {
  const seen = new Set<string>();
  return each(v, path, (x, p) => {
    const o = obj(x, p);
    const type = req(o, 'type', p, (t, tp) => oneOf(t, tp, RLIMIT_TYPES, 'rlimit type'));
    if (seen.has(type)) fail(joinPath(p, 'type'), `duplicate rlimit type ${type}`);
    seen.add(type);
    const hard = req(o, 'hard', p, uint64);
    const soft = req(o, 'soft', p, uint64);
    if (soft > hard) fail(joinPath(p, 'soft'), `soft limit ${soft} is greater than hard limit ${hard} for ${type}`);
    return o as unknown as Rlimit;
  });
}

/**
 * Validates a process object. `path` is the JSON path of `value` (`$.process`
 * inside config.json, `$` for the lone file of `exec --process`). `file` names
 * the file in the error message.
 */
export function validateProcess(value: unknown, path: string, file = 'config.json'): Process {
  return wrap(file, () => checkProcess(value, path));
}

function checkProcess(value: unknown, path: string): Process {
  const o = obj(value, path);
  opt(o, 'terminal', path, bool);
  opt(o, 'consoleSize', path, (x, p) => {
    const c = obj(x, p);
    // struct winsize has unsigned shorts
    req(c, 'height', p, (n, np) => uint(n, np, 0xffff));
    req(c, 'width', p, (n, np) => uint(n, np, 0xffff));
    return c;
  });
  req(o, 'user', path, validateUser);
  const commandLine = opt(o, 'commandLine', path, str);
  const args = opt(o, 'args', path, strArr);
  if (args === undefined) {
    if (commandLine === undefined) fail(joinPath(path, 'args'), 'required field is missing (need at least one argument)');
  } else if (args.length === 0) {
    fail(joinPath(path, 'args'), 'must contain at least one entry');
  }
  opt(o, 'env', path, strArr);
  req(o, 'cwd', path, (x, p) => absPath(x, p, 'cwd'));
  opt(o, 'capabilities', path, validateCapabilities);
  opt(o, 'rlimits', path, validateRlimits);
  opt(o, 'noNewPrivileges', path, bool);
  opt(o, 'apparmorProfile', path, (x, p) => unsupportedLsm(str(x, p), p, 'apparmor'));
  opt(o, 'oomScoreAdj', path, (x, p) => int(x, p, -1000, 1000));
  opt(o, 'selinuxLabel', path, (x, p) => unsupportedLsm(str(x, p), p, 'selinux'));
  opt(o, 'ioPriority', path, (x, p) => {
    const io = obj(x, p);
    req(io, 'class', p, (c, cp) => oneOf(c, cp, IOPRIO_CLASSES, 'I/O priority class'));
    req(io, 'priority', p, (n, np) => int(n, np, 0, 7));
    return io;
  });
  opt(o, 'scheduler', path, (x, p) => {
    const s = obj(x, p);
    req(s, 'policy', p, (c, cp) => oneOf(c, cp, SCHED_POLICIES, 'scheduler policy'));
    opt(s, 'nice', p, (n, np) => int(n, np, -20, 19));
    opt(s, 'priority', p, (n, np) => int(n, np, I32_MIN, I32_MAX));
    opt(s, 'flags', p, (f, fp) => each(f, fp, (e, ep) => oneOf(e, ep, SCHED_FLAGS, 'scheduler flag')));
    opt(s, 'runtime', p, uint64);
    opt(s, 'deadline', p, uint64);
    opt(s, 'period', p, uint64);
    return s;
  });
  opt(o, 'execCPUAffinity', path, (x, p) => {
    const a = obj(x, p);
    opt(a, 'initial', p, str);
    opt(a, 'final', p, str);
    return a;
  });
  return o as unknown as Process;
}

// ---------------------------------------------------------------------------
// root, mounts, hooks

function validateIdMapping(v: unknown, path: string): IdMapping {
  const o = obj(v, path);
  const inside = req(o, 'containerID', path, u32);
  const outside = req(o, 'hostID', path, u32);
  const size = req(o, 'size', path, u32);
  if (size === 0) fail(joinPath(path, 'size'), 'mapping size must be at least 1');
  // the kernel: the last id of a range is at most 4294967294 ((uid_t)-1 is no id)
  if (inside + size - 1 >= U32_MAX) fail(joinPath(path, 'size'), `containerID ${inside} + size ${size} goes past id 4294967294`);
  if (outside + size - 1 >= U32_MAX) fail(joinPath(path, 'size'), `hostID ${outside} + size ${size} goes past id 4294967294`);
  return o as unknown as IdMapping;
}

/** A uid or gid map as the kernel accepts it: at most 340 lines, no two ranges overlapping on either side. */
function validateIdMappings(v: unknown, path: string): IdMapping[] {
  const maps = each(v, path, validateIdMapping);
  if (maps.length > MAX_ID_EXTENTS) fail(path, `at most ${MAX_ID_EXTENTS} mappings are allowed (the kernel's limit), got ${maps.length}`);
  for (let i = 0; i < maps.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = maps[j]!;
      const b = maps[i]!;
      const overlap = (x: number, y: number) => x < y + b.size && y < x + a.size;
      if (overlap(a.containerID, b.containerID)) fail(joinPath(path, i), `containerID range ${b.containerID}..${b.containerID + b.size - 1} overlaps ${joinPath(path, j)} (${a.containerID}..${a.containerID + a.size - 1})`);
      if (overlap(a.hostID, b.hostID)) fail(joinPath(path, i), `hostID range ${b.hostID}..${b.hostID + b.size - 1} overlaps ${joinPath(path, j)} (${a.hostID}..${a.hostID + a.size - 1})`);
    }
  }
  return maps;
}

function validateMount(v: unknown, path: string): Mount {
  const o = obj(v, path);
  const dest = req(o, 'destination', path, (x, p) => absPath(x, p, 'mount destination'));
  if (dest.split('/').includes('..')) fail(joinPath(path, 'destination'), `mount destination must not contain "..", got ${JSON.stringify(dest)}`);
  opt(o, 'type', path, str);
  opt(o, 'source', path, str);
  opt(o, 'options', path, strArr);
  opt(o, 'uidMappings', path, validateIdMappings);
  opt(o, 'gidMappings', path, validateIdMappings);
  return o as unknown as Mount;
}

function validateHook(v: unknown, path: string): Hook {
  const o = obj(v, path);
  req(o, 'path', path, (x, p) => absPath(x, p, 'hook path'));
  opt(o, 'args', path, strArr);
  opt(o, 'env', path, strArr);
  opt(o, 'timeout', path, (x, p) => {
    // seconds; a timer of more than 2^31-1 ms would fire at once
    const t = int(x, p, I32_MIN, 2_147_483);
    if (t <= 0) fail(p, `hook timeout must be greater than zero, got ${t}`);
    return t;
  });
  return o as unknown as Hook;
}

function validateHooks(v: unknown, path: string): Hooks {
  const o = obj(v, path);
  for (const name of HOOK_NAMES) opt(o, name, path, (x, p) => each(x, p, validateHook));
  return o as Hooks;
}

// ---------------------------------------------------------------------------
// linux

function validateNamespaces(v: unknown, path: string): Namespace[] {
  const seen = new Set<string>();
  return each(v, path, (x, p) => {
    const o = obj(x, p);
    const type = req(o, 'type', p, (t, tp) => oneOf<NamespaceType>(t, tp, NAMESPACE_TYPES, 'namespace type'));
    if (seen.has(type)) fail(joinPath(p, 'type'), `duplicate namespace type ${JSON.stringify(type)}`);
    seen.add(type);
    opt(o, 'path', p, (x2, p2) => absPath(x2, p2, 'namespace path'));
    return o as unknown as Namespace;
  });
}

function validateDevice(v: unknown, path: string): Device {
  const o = obj(v, path);
  const type = req(o, 'type', path, (x, p) => oneOf(x, p, DEVICE_TYPES, 'device type'));
  req(o, 'path', path, (x, p) => absPath(x, p, 'device path'));
  // major/minor are REQUIRED unless the device is a FIFO.
  // makedev takes 32-bit numbers
  const major = opt(o, 'major', path, u32);
  const minor = opt(o, 'minor', path, u32);
  if (type !== 'p') {
    if (major === undefined) fail(joinPath(path, 'major'), `required field is missing for device type "${type}"`);
    if (minor === undefined) fail(joinPath(path, 'minor'), `required field is missing for device type "${type}"`);
  }
  opt(o, 'fileMode', path, (x, p) => uint(x, p, 0o177777));
  opt(o, 'uid', path, id);
  opt(o, 'gid', path, id);
  return o as unknown as Device;
}

function validateDeviceRule(v: unknown, path: string): DeviceCgroupRule {
  const o = obj(v, path);
  req(o, 'allow', path, bool);
  opt(o, 'type', path, (x, p) => oneOf(x, p, DEVICE_RULE_TYPES, 'device rule type'));
  // -1 is the wildcard
  opt(o, 'major', path, (x, p) => int(x, p, -1, U32_MAX));
  opt(o, 'minor', path, (x, p) => int(x, p, -1, U32_MAX));
  opt(o, 'access', path, (x, p) => {
    const s = str(x, p);
    if (!/^[rwm]*$/.test(s)) fail(p, `device access must be a combination of r, w and m, got ${JSON.stringify(s)}`);
    return s;
  });
  return o as unknown as DeviceCgroupRule;
}

function validateThrottle(v: unknown, path: string): ThrottleDevice {
  const o = obj(v, path);
  req(o, 'major', path, u32);
  req(o, 'minor', path, u32);
  req(o, 'rate', path, uint64);
  return o as unknown as ThrottleDevice;
}

function validateResources(v: unknown, path: string): Resources {
  const o = obj(v, path);
  opt(o, 'devices', path, (x, p) => each(x, p, validateDeviceRule));
  opt(o, 'memory', path, (x, p): MemoryResources => {
    const m = obj(x, p);
    // -1 means "unlimited" for the byte limits.
    for (const k of ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP']) opt(m, k, p, (n, np) => int64(n, np, -1n));
    opt(m, 'swappiness', p, (n, np) => uint(n, np, 100));
    for (const k of ['disableOOMKiller', 'useHierarchy', 'checkBeforeUpdate']) opt(m, k, p, bool);
    return m;
  });
  opt(o, 'cpu', path, (x, p): CpuResources => {
    const c = obj(x, p);
    for (const k of ['shares', 'burst', 'period', 'realtimePeriod']) opt(c, k, p, uint64);
    for (const k of ['quota', 'realtimeRuntime', 'idle']) opt(c, k, p, (n, np) => int64(n, np));
    opt(c, 'cpus', p, str);
    opt(c, 'mems', p, str);
    return c;
  });
  opt(o, 'pids', path, (x, p) => {
    const pd = obj(x, p);
    req(pd, 'limit', p, (n, np) => int64(n, np));
    return pd;
  });
  opt(o, 'blockIO', path, (x, p): BlockIO => {
    const b = obj(x, p);
    opt(b, 'weight', p, (n, np) => uint(n, np, 0xffff));
    opt(b, 'leafWeight', p, (n, np) => uint(n, np, 0xffff));
    opt(b, 'weightDevice', p, (wd, wp) =>
      each(wd, wp, (d, dp) => {
        const w = obj(d, dp);
        req(w, 'major', dp, u32);
        req(w, 'minor', dp, u32);
        opt(w, 'weight', dp, (n, np) => uint(n, np, 0xffff));
        opt(w, 'leafWeight', dp, (n, np) => uint(n, np, 0xffff));
        return w;
      }),
    );
    for (const k of ['throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice']) {
      opt(b, k, p, (t, tp) => each(t, tp, validateThrottle));
    }
    return b;
  });
  opt(o, 'hugepageLimits', path, (x, p) =>
    each(x, p, (h, hp) => {
      const hl = obj(h, hp);
      req(hl, 'pageSize', hp, str);
      req(hl, 'limit', hp, uint64);
      return hl;
    }),
  );
  opt(o, 'network', path, (x, p) => {
    const n = obj(x, p);
    opt(n, 'classID', p, u32);
    opt(n, 'priorities', p, (pr, pp) =>
      each(pr, pp, (e, ep) => {
        const np = obj(e, ep);
        req(np, 'name', ep, str);
        req(np, 'priority', ep, u32);
        return np;
      }),
    );
    return n;
  });
  opt(o, 'rdma', path, (x, p) => {
    const r = obj(x, p);
    for (const k of Object.keys(r)) {
      const kp = joinPath(p, k);
      const lim = obj(r[k], kp);
      opt(lim, 'hcaHandles', kp, u32);
      opt(lim, 'hcaObjects', kp, u32);
    }
    return r;
  });
  opt(o, 'unified', path, strMap);
  return o as Resources;
}

function validateSeccompArg(v: unknown, path: string): SeccompArg {
  const o = obj(v, path);
  const index = req(o, 'index', path, (x, p) => uint(x, p, U32_MAX));
  if (index > 5) fail(joinPath(path, 'index'), `syscall argument index must be 0..5, got ${index}`);
  req(o, 'value', path, uint64);
  opt(o, 'valueTwo', path, uint64);
  req(o, 'op', path, (x, p) => oneOf(x, p, SECCOMP_OPS, 'seccomp operator'));
  return o as unknown as SeccompArg;
}

function validateSeccompSyscall(v: unknown, path: string): SeccompSyscall {
  const o = obj(v, path);
  const names = req(o, 'names', path, strArr);
  if (names.length === 0) fail(joinPath(path, 'names'), 'must contain at least one syscall name');
  names.forEach((n, i) => {
    if (n === '') fail(joinPath(joinPath(path, 'names'), i), 'syscall name must not be empty');
  });
  req(o, 'action', path, (x, p) => oneOf(x, p, SECCOMP_ACTIONS, 'seccomp action'));
  opt(o, 'errnoRet', path, u32);
  opt(o, 'args', path, (x, p) => each(x, p, validateSeccompArg));
  return o as unknown as SeccompSyscall;
}

function validateSeccomp(v: unknown, path: string): Seccomp {
  const o = obj(v, path);
  req(o, 'defaultAction', path, (x, p) => oneOf(x, p, SECCOMP_ACTIONS, 'seccomp action'));
  opt(o, 'defaultErrnoRet', path, u32);
  opt(o, 'architectures', path, (x, p) => each(x, p, (a, ap) => oneOf(a, ap, SECCOMP_ARCHES, 'seccomp architecture')));
  opt(o, 'flags', path, (x, p) => each(x, p, (f, fp) => oneOf(f, fp, SECCOMP_FLAGS, 'seccomp flag')));
  // SCMP_ACT_NOTIFY is refused where the filter is built; a listener alone would be ignored
  opt(o, 'listenerPath', path, (x, p) => unsupported(str(x, p), p, 'berth-oci has no seccomp user notification (no SCMP_ACT_NOTIFY listener)'));
  opt(o, 'listenerMetadata', path, (x, p) => unsupported(str(x, p), p, 'berth-oci has no seccomp user notification (no SCMP_ACT_NOTIFY listener)'));
  opt(o, 'syscalls', path, (x, p) => each(x, p, validateSeccompSyscall));
  return o as unknown as Seccomp;
}

function validateLinux(v: unknown, path: string): Linux {
  const o = obj(v, path);
  opt(o, 'namespaces', path, validateNamespaces);
  opt(o, 'uidMappings', path, validateIdMappings);
  opt(o, 'gidMappings', path, validateIdMappings);
  opt(o, 'timeOffsets', path, (x, p) => {
    const t = obj(x, p);
    for (const clock of Object.keys(t)) {
      const cp = joinPath(p, clock);
      if (!TIME_CLOCKS.has(clock)) fail(cp, `unknown clock ${JSON.stringify(clock)} (expected monotonic or boottime)`);
      const off = obj(t[clock], cp);
      opt(off, 'secs', cp, (n, np) => int64(n, np));
      opt(off, 'nanosecs', cp, (n, np) => uint(n, np, 999_999_999));
    }
    return t;
  });
  opt(o, 'devices', path, (x, p) => each(x, p, validateDevice));
  opt(o, 'netDevices', path, (x, p) => {
    const nd = obj(x, p);
    for (const k of Object.keys(nd)) {
      const d = obj(nd[k], joinPath(p, k));
      opt(d, 'name', joinPath(p, k), str);
    }
    return nd;
  });
  opt(o, 'cgroupsPath', path, validateCgroupsPath);
  opt(o, 'resources', path, validateResources);
  opt(o, 'rootfsPropagation', path, (x, p) => oneOf(x, p, ROOTFS_PROPAGATIONS, 'rootfs propagation'));
  opt(o, 'seccomp', path, validateSeccomp);
  opt(o, 'sysctl', path, (x, p) => {
    const m = strMap(x, p);
    for (const k of Object.keys(m)) sysctlFile(k, joinPath(p, k));
    return m;
  });
  opt(o, 'maskedPaths', path, strArr);
  opt(o, 'readonlyPaths', path, strArr);
  opt(o, 'mountLabel', path, (x, p) => unsupportedLsm(str(x, p), p, 'selinux'));
  opt(o, 'intelRdt', path, (x, p) => {
    const r = obj(x, p);
    for (const k of ['closID', 'l3CacheSchema', 'memBwSchema']) opt(r, k, p, str);
    for (const k of ['enableCMT', 'enableMBM']) opt(r, k, p, bool);
    const asked = ['closID', 'l3CacheSchema', 'memBwSchema', 'enableCMT', 'enableMBM'].filter((k) => r[k] !== undefined && r[k] !== '' && r[k] !== false);
    if (asked.length) fail(joinPath(p, asked[0]!), 'berth-oci does not support Intel RDT (resctrl): the setting cannot be applied');
    return r;
  });
  opt(o, 'personality', path, (x, p) => {
    const pe = obj(x, p);
    req(pe, 'domain', p, (d, dp) => oneOf(d, dp, PERSONALITY_DOMAINS, 'personality domain'));
    opt(pe, 'flags', p, strArr);
    return pe;
  });
  return o as Linux;
}

/** The IPC sysctls besides fs.mqueue.* (runc's validator). */
const IPC_SYSCTLS: ReadonlySet<string> = new Set([
  'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced',
]);

const NS_FILE: Readonly<Record<string, string>> = { ipc: 'ipc', uts: 'uts', network: 'net' };

/**
 * /proc/sys is only partly namespaced: a sysctl is written only where the container has its own
 * namespace for it, as runc's validator decides (kernel.domainname needs a UTS namespace, the IPC
 * keys an IPC namespace, net.* a network namespace; everything else is host-wide and refused).
 * A namespace joined by path counts unless it is berth-oci's own (runc checks that for net only;
 * berth for ipc and uts too, since writing there would change the host just the same).
 */
function checkSysctl(linux: Linux | undefined, nsList: Namespace[]): void {
  const owned = new Map<string, boolean>();
  const owns = (type: 'ipc' | 'uts' | 'network'): boolean => {
    const cached = owned.get(type);
    if (cached !== undefined) return cached;
    const i = nsList.findIndex((n) => n.type === type);
    let own = i >= 0;
    const nsPath = i >= 0 ? nsList[i]!.path : undefined;
    if (nsPath !== undefined) {
      let theirs, ours;
      try {
        theirs = statSync(nsPath);
        ours = statSync(`/proc/self/ns/${NS_FILE[type]}`);
      } catch (e) {
        fail(`$.linux.namespaces[${i}].path`, `invalid ${type} namespace path: ${(e as Error).message}`);
      }
      own = theirs.dev !== ours.dev || theirs.ino !== ours.ino;
    }
    owned.set(type, own);
    return own;
  };
  for (const key of Object.keys(linux?.sysctl ?? {})) {
    const p = joinPath('$.linux.sysctl', key);
    const s = sysctlName(key);
    if (IPC_SYSCTLS.has(s) || s.startsWith('fs.mqueue.')) {
      if (!owns('ipc')) fail(p, `sysctl ${JSON.stringify(s)} is not allowed in the host's ipc namespace (linux.namespaces needs an ipc namespace of the container's own)`);
      continue;
    }
    if (s.startsWith('net.')) {
      if (!owns('network')) fail(p, `sysctl ${JSON.stringify(s)} is not allowed in the host's network namespace (linux.namespaces needs a network namespace of the container's own)`);
      continue;
    }
    if (s === 'kernel.domainname' && owns('uts')) continue;
    if (s === 'kernel.hostname' && owns('uts')) fail(p, `sysctl ${JSON.stringify(s)} is not allowed as it conflicts with the OCI "hostname" field`);
    if (s === 'kernel.domainname' || s === 'kernel.hostname') {
      fail(p, `sysctl ${JSON.stringify(s)} is not allowed in the host's uts namespace (linux.namespaces needs a uts namespace of the container's own)`);
    }
    fail(p, `sysctl ${JSON.stringify(s)} is not in a separate kernel namespace: writing it would change the host`);
  }
}

/**
 * Whether the container's mounts are made in berth-oci's own mount namespace: none is listed
 * (runtime-spec: the runtime's is inherited), or the one joined by path is ours.
 */
export function sharesHostMountNs(nsList: readonly Namespace[]): boolean {
  const mnt = nsList.find((n) => n.type === 'mount');
  if (!mnt) return true;
  if (mnt.path === undefined) return false;
  try {
    const theirs = statSync(mnt.path);
    const ours = statSync('/proc/self/ns/mnt');
    return theirs.dev === ours.dev && theirs.ino === ours.ino;
  } catch {
    return false; // a path that is not there fails at setns, with its name
  }
}

/** Cross-field rules that runc's config validator enforces. */
function checkNamespaceConsistency(spec: Spec): void {
  const linux = spec.linux;
  const nsList = linux?.namespaces ?? [];
  const nsIndex = (t: NamespaceType) => nsList.findIndex((n) => n.type === t);

  // runc: masking needs mounts of the container's own
  if (sharesHostMountNs(nsList)) {
    if (linux?.maskedPaths?.length) fail('$.linux.maskedPaths', 'unable to restrict sys entries without a private MNT namespace');
    if (linux?.readonlyPaths?.length) fail('$.linux.readonlyPaths', 'unable to restrict sys entries without a private MNT namespace');
    // runc remounts the host's mount holding the rootfs (and with it whatever else is on it)
    // read-only here, or ignores it; berth does not change a mount it did not make
    if (spec.root?.readonly) fail('$.root.readonly', 'a read-only rootfs needs a mount namespace of the container\'s own (linux.namespaces lists none): remounting it read-only would change the host\'s mount that holds it');
    // runc applies it to the host's "/"
    if (linux?.rootfsPropagation) fail('$.linux.rootfsPropagation', 'needs a mount namespace of the container\'s own (linux.namespaces lists none): it would change the propagation of the host\'s "/"');
  }
  checkSysctl(linux, nsList);

  // runc checks "contains a uts namespace" (joining one by path counts too).
  if (spec.hostname !== undefined && spec.hostname !== '' && nsIndex('uts') < 0) {
    fail('$.hostname', 'unable to set hostname without a private UTS namespace');
  }
  if (spec.domainname !== undefined && spec.domainname !== '' && nsIndex('uts') < 0) {
    fail('$.domainname', 'unable to set domainname without a private UTS namespace');
  }

  const uidMaps = linux?.uidMappings ?? [];
  const gidMaps = linux?.gidMappings ?? [];
  const userIdx = nsIndex('user');
  if (userIdx < 0) {
    if (uidMaps.length > 0) fail('$.linux.uidMappings', 'uid mappings given but no user namespace is configured');
    if (gidMaps.length > 0) fail('$.linux.gidMappings', 'gid mappings given but no user namespace is configured');
  } else if (nsList[userIdx]?.path === undefined) {
    if (uidMaps.length === 0) fail(`$.linux.namespaces[${userIdx}]`, 'new user namespace requested but linux.uidMappings is empty');
    if (gidMaps.length === 0) fail(`$.linux.namespaces[${userIdx}]`, 'new user namespace requested but linux.gidMappings is empty');
  }

  if (linux?.timeOffsets !== undefined && Object.keys(linux.timeOffsets).length > 0 && nsIndex('time') < 0) {
    fail('$.linux.timeOffsets', 'time offsets given but no time namespace is configured');
  }
}

function checkSpec(value: unknown): Spec {
  const path = '$';
  const o = obj(value, path);
  req(o, 'ociVersion', path, str);
  opt(o, 'process', path, checkProcess);
  opt(o, 'root', path, (x, p) => {
    const r = obj(x, p);
    req(r, 'path', p, str);
    opt(r, 'readonly', p, bool);
    return r;
  });
  opt(o, 'hostname', path, str);
  opt(o, 'domainname', path, str);
  opt(o, 'mounts', path, (x, p) => each(x, p, validateMount));
  opt(o, 'hooks', path, validateHooks);
  opt(o, 'annotations', path, (x, p) => {
    const a = obj(x, p);
    for (const [k, v] of Object.entries(a)) text(v, joinPath(p, k));
    return a;
  });
  opt(o, 'linux', path, validateLinux);
  const spec = o as unknown as Spec;
  checkNamespaceConsistency(spec);
  return spec;
}

function wrap<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Invalid) throw new ConfigError(file, e.path, e.detail);
    throw e;
  }
}

/** Validates an already-parsed config object (mutates nulls away, see top). */
export function validateSpec(value: unknown, file = 'config.json'): Spec {
  return wrap(file, () => checkSpec(value));
}

/**
 * The value of a JSON text, integers beyond 2^53 exact (json.ts), parsed once: a syntax error
 * comes with the offset of the first bad character, made line:column by jsonSyntaxError.
 */
function parseText(text: string, file: string): unknown {
  try {
    return parseExact(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw jsonSyntaxError(text, file, e.position);
    if (e instanceof RangeError) throw new ConfigError(file, '$', 'invalid JSON: nested too deeply');
    throw e;
  }
}

/** Parses and validates the text of a config.json. */
export function parseSpec(text: string, file = 'config.json'): Spec {
  return validateSpec(parseText(text, file), file);
}

/** Parses a lone process.json (`exec --process`), paths relative to `$`. */
export function parseProcess(text: string, file = 'process.json'): Process {
  return validateProcess(parseText(text, file), '$', file);
}

/** Parses a lone linux.resources object (`update --resources`), paths relative to `$`. */
export function parseResources(text: string, file = 'resources.json'): Resources {
  const value = parseText(text, file);
  return wrap(file, () => validateResources(value, '$'));
}

// ---------------------------------------------------------------------------
// JSON syntax errors: the exact parser's offset of the first bad character, as line:column.

function jsonSyntaxError(text: string, file: string, pos: number): ConfigError {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  const column = pos - lineStart + 1;
  // V8's reason, without its own location and snippet: we give a better one (an error path only)
  let message = '';
  try {
    JSON.parse(text);
  } catch (e) {
    message = e instanceof Error ? e.message : String(e);
  }
  const reason = message
    .replace(/,\s*".*" is not valid JSON$/s, '')
    .replace(/ in JSON at position \d+.*$/s, '')
    .trim();
  return new ConfigError(file, '$', `invalid JSON at line ${line}, column ${column} (position ${pos}): ${reason}`, {
    line,
    column,
    position: pos,
  });
}
