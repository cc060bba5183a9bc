// TypeScript shapes of the OCI runtime-spec config.json (v1.0 – v1.2) and the
// runtime state document. Field names are exactly the JSON property names the
// spec uses. Only the Linux (and platform-neutral) parts are modelled; the
// solaris/windows/vm/zos sections are left to `unknown` passthrough because
// the spec says runtimes must ignore properties they do not know.
//
// Numeric fields that the spec declares as 64-bit (rlimits, memory limits,
// seccomp argument values, ...) are Int64 / Uint64: a `number` while the value
// is a safe integer, a `bigint` beyond 2^53 (json.ts parses config.json
// exactly: RLIMIT_INFINITY 18446744073709551615 stays exactly that). The
// validator has checked the range of each.

/** An int64 field: a number, or a bigint when beyond Number.MAX_SAFE_INTEGER. */
export type Int64 = number | bigint;
/** A uint64 field: a number, or a bigint when beyond Number.MAX_SAFE_INTEGER. */
export type Uint64 = number | bigint;

export interface Spec {
  ociVersion: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
}

// ---------------------------------------------------------------------------
// process

export interface Process {
  terminal?: boolean;
  consoleSize?: ConsoleSize;
  user: User;
  args?: string[];
  /** Windows only; carried for completeness. */
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
  ioPriority?: IoPriority;
  scheduler?: Scheduler;
  /** runtime-spec 1.2 */
  execCPUAffinity?: ExecCPUAffinity;
}

export interface ConsoleSize {
  height: number;
  width: number;
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export type CapabilitySet = keyof Capabilities;

export type RlimitType =
  | 'RLIMIT_AS'
  | 'RLIMIT_CORE'
  | 'RLIMIT_CPU'
  | 'RLIMIT_DATA'
  | 'RLIMIT_FSIZE'
  | 'RLIMIT_LOCKS'
  | 'RLIMIT_MEMLOCK'
  | 'RLIMIT_MSGQUEUE'
  | 'RLIMIT_NICE'
  | 'RLIMIT_NOFILE'
  | 'RLIMIT_NPROC'
  | 'RLIMIT_RSS'
  | 'RLIMIT_RTPRIO'
  | 'RLIMIT_RTTIME'
  | 'RLIMIT_SIGPENDING'
  | 'RLIMIT_STACK';

export interface Rlimit {
  type: RlimitType;
  hard: Uint64;
  soft: Uint64;
}

export type IoPriorityClass = 'IOPRIO_CLASS_RT' | 'IOPRIO_CLASS_BE' | 'IOPRIO_CLASS_IDLE';

export interface IoPriority {
  class: IoPriorityClass;
  priority: number;
}

export type SchedulerPolicy =
  | 'SCHED_OTHER'
  | 'SCHED_FIFO'
  | 'SCHED_RR'
  | 'SCHED_BATCH'
  | 'SCHED_ISO'
  | 'SCHED_IDLE'
  | 'SCHED_DEADLINE';

export type SchedulerFlag =
  | 'SCHED_FLAG_RESET_ON_FORK'
  | 'SCHED_FLAG_RECLAIM'
  | 'SCHED_FLAG_DL_OVERRUN'
  | 'SCHED_FLAG_KEEP_POLICY'
  | 'SCHED_FLAG_KEEP_PARAMS'
  | 'SCHED_FLAG_UTIL_CLAMP_MIN'
  | 'SCHED_FLAG_UTIL_CLAMP_MAX';

export interface Scheduler {
  policy: SchedulerPolicy;
  nice?: number;
  priority?: number;
  flags?: SchedulerFlag[];
  runtime?: Uint64;
  deadline?: Uint64;
  period?: Uint64;
}

export interface ExecCPUAffinity {
  initial?: string;
  final?: string;
}

// ---------------------------------------------------------------------------
// root, mounts, hooks

export interface Root {
  path: string;
  readonly?: boolean;
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  /** runtime-spec 1.1: idmapped mounts */
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
}

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface Hooks {
  /** Deprecated in favour of createRuntime/createContainer/startContainer. */
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

export type HookName = keyof Hooks;

// ---------------------------------------------------------------------------
// linux

export interface Linux {
  namespaces?: Namespace[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  timeOffsets?: TimeOffsets;
  devices?: Device[];
  /** runtime-spec 1.2: network devices moved into the container's netns */
  netDevices?: Record<string, NetDevice>;
  cgroupsPath?: string;
  resources?: Resources;
  rootfsPropagation?: RootfsPropagation;
  seccomp?: Seccomp;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  intelRdt?: IntelRdt;
  personality?: Personality;
}

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

export interface Namespace {
  type: NamespaceType;
  path?: string;
}

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface TimeOffset {
  secs?: Int64;
  nanosecs?: number;
}

/** Keys are the clock names: "monotonic" and "boottime". */
export type TimeOffsets = Partial<Record<'monotonic' | 'boottime', TimeOffset>>;

/** c = char, b = block, u = unbuffered char (same as c), p = FIFO */
export type DeviceType = 'c' | 'b' | 'u' | 'p';

export interface Device {
  type: DeviceType;
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface NetDevice {
  name?: string;
}

export type RootfsPropagation =
  | 'private'
  | 'rprivate'
  | 'slave'
  | 'rslave'
  | 'shared'
  | 'rshared'
  | 'unbindable'
  | 'runbindable';

export interface IntelRdt {
  closID?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
  enableCMT?: boolean;
  enableMBM?: boolean;
}

export interface Personality {
  domain: 'LINUX' | 'LINUX32';
  flags?: string[];
}

// ---------------------------------------------------------------------------
// linux.resources

export interface Resources {
  devices?: DeviceCgroupRule[];
  memory?: MemoryResources;
  cpu?: CpuResources;
  pids?: PidsResources;
  blockIO?: BlockIO;
  hugepageLimits?: HugepageLimit[];
  network?: NetworkResources;
  rdma?: Record<string, RdmaLimit>;
  unified?: Record<string, string>;
}

export interface DeviceCgroupRule {
  allow: boolean;
  /** 'a' (all), 'c' or 'b'; absent means all */
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  /** some combination of r, w, m */
  access?: string;
}

export interface MemoryResources {
  limit?: Int64;
  reservation?: Int64;
  swap?: Int64;
  kernel?: Int64;
  kernelTCP?: Int64;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface CpuResources {
  shares?: Uint64;
  quota?: Int64;
  burst?: Uint64;
  period?: Uint64;
  realtimeRuntime?: Int64;
  realtimePeriod?: Uint64;
  cpus?: string;
  mems?: string;
  idle?: Int64;
}

export interface PidsResources {
  limit: Int64;
}

export interface WeightDevice {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

export interface ThrottleDevice {
  major: number;
  minor: number;
  rate: Uint64;
}

export interface BlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: WeightDevice[];
  throttleReadBpsDevice?: ThrottleDevice[];
  throttleWriteBpsDevice?: ThrottleDevice[];
  throttleReadIOPSDevice?: ThrottleDevice[];
  throttleWriteIOPSDevice?: ThrottleDevice[];
}

export interface HugepageLimit {
  pageSize: string;
  limit: Uint64;
}

export interface NetworkPriority {
  name: string;
  priority: number;
}

export interface NetworkResources {
  classID?: number;
  priorities?: NetworkPriority[];
}

export interface RdmaLimit {
  hcaHandles?: number;
  hcaObjects?: number;
}

// ---------------------------------------------------------------------------
// linux.seccomp

export type SeccompAction =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_LOG'
  | 'SCMP_ACT_NOTIFY';

export type SeccompOperator =
  | 'SCMP_CMP_NE'
  | 'SCMP_CMP_LT'
  | 'SCMP_CMP_LE'
  | 'SCMP_CMP_EQ'
  | 'SCMP_CMP_GE'
  | 'SCMP_CMP_GT'
  | 'SCMP_CMP_MASKED_EQ';

export type SeccompArch =
  | 'SCMP_ARCH_X86'
  | 'SCMP_ARCH_X86_64'
  | 'SCMP_ARCH_X32'
  | 'SCMP_ARCH_ARM'
  | 'SCMP_ARCH_AARCH64'
  | 'SCMP_ARCH_MIPS'
  | 'SCMP_ARCH_MIPS64'
  | 'SCMP_ARCH_MIPS64N32'
  | 'SCMP_ARCH_MIPSEL'
  | 'SCMP_ARCH_MIPSEL64'
  | 'SCMP_ARCH_MIPSEL64N32'
  | 'SCMP_ARCH_PPC'
  | 'SCMP_ARCH_PPC64'
  | 'SCMP_ARCH_PPC64LE'
  | 'SCMP_ARCH_S390'
  | 'SCMP_ARCH_S390X'
  | 'SCMP_ARCH_PARISC'
  | 'SCMP_ARCH_PARISC64'
  | 'SCMP_ARCH_RISCV64'
  | 'SCMP_ARCH_LOONGARCH64'
  | 'SCMP_ARCH_M68K'
  | 'SCMP_ARCH_SH'
  | 'SCMP_ARCH_SHEB';

export type SeccompFlag =
  | 'SECCOMP_FILTER_FLAG_TSYNC'
  | 'SECCOMP_FILTER_FLAG_LOG'
  | 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'
  | 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV';

export interface Seccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: SeccompArch[];
  flags?: SeccompFlag[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SeccompSyscall[];
}

export interface SeccompSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface SeccompArg {
  index: number;
  value: Uint64;
  valueTwo?: Uint64;
  op: SeccompOperator;
}

// ---------------------------------------------------------------------------
// runtime state (runtime.md "State")

export type ContainerStatus = 'creating' | 'created' | 'running' | 'stopped' | 'paused';

export interface State {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}
