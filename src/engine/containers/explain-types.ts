/**
 * What `GET /containers/{id}/explain` answers and `berth explain` prints: the seed's "What docker
 * run actually does", step by step, for one container, with the values read back from where they
 * live (the kernel's /proc and cgroup files, the mount table, the image store, the runtime's
 * creation trace) and the time each step took. One type for the engine, the API and the CLI.
 */

/** A phase of create or start as the engine's clock measured it. */
export interface Phase {
  name: string;
  ms: number;
}

/** One line of the runtime's creation trace (berth-oci and berth-init), placed in a seed step. */
export interface TraceEntry {
  /** which of the 9 steps it belongs to */
  seedStep: number;
  step: string;
  /** the runtime's own stage name (prepare, clone, cgroups, rootfs, pivot_root, network, security, exec) */
  stage: string;
  /** ms since the trace's first entry */
  atMs: number;
  tookMs: number;
  result: number;
  /** the call as made, with its values: `clone(CLONE_NEWNS|…|SIGCHLD)` */
  detail: string;
}

export interface StepBase {
  step: number;
  title: string;
  /** ms this step took (engine clocks and trace), null when nothing measured it */
  tookMs: number | null;
}

export interface LayerInfo {
  index: number;
  /** blob digest and media type (as pulled) and its compressed size from the manifest */
  digest: string;
  mediaType: string;
  compressedSize: number;
  diffId: string;
  chainId: string;
  /** the snapshot's unpacked directory (an overlay lowerdir) */
  dir: string;
  /** bytes unpacked, when the snapshot recorded them */
  size: number | null;
  present: boolean;
}

export interface ImageStep extends StepBase {
  /** as the client named it, and the repository name it resolved to */
  requested: string;
  name: string;
  /** the image ID (config digest) and the manifest it came from */
  id: string;
  manifestDigest: string;
  layers: LayerInfo[];
}

export interface DirectoryStep extends StepBase {
  dir: string;
  bundle: string;
  configJson: string;
  logPath: string;
  /** the monitor's sockets live here while the container runs */
  runDir: string;
  /** the runtime's state (state.json, exec.fifo, trace.log) while the container exists in it */
  runtimeStateDir: string;
  etcFiles: { hostname?: string; hosts?: string; resolvConf?: string };
}

export interface NamespaceInfo {
  /** the /proc/PID/ns name: pid net mnt ipc uts user cgroup time */
  type: string;
  /** created for the container, joined (another container's or a path), or the host's own */
  mode: 'new' | 'joined' | 'host';
  /** what was joined: `container:web` or the path given to setns */
  joined?: string;
  /** the namespace's inode as the running process shows it (/proc/PID/ns/TYPE), and berthd's own */
  inode: number | null;
  hostInode: number | null;
}

export interface NamespaceStep extends StepBase {
  /** the clone(2) flags berth-init passed, from the trace */
  clone: string | null;
  namespaces: NamespaceInfo[];
  /** `/proc/PID/ns` of the running init, or `config.json` once it is gone */
  source: string;
}

export interface CgroupFile {
  path: string;
  value: string;
}

export interface CgroupStep extends StepBase {
  /** v1, v2 or hybrid, as mounted on this host */
  layout: string;
  cgroupsPath: string;
  /** the container's directory in each hierarchy (from /proc/PID/cgroup while it runs) */
  paths: { hierarchy: string; dir: string }[];
  /** the limits read back from the cgroup files (null: unlimited or not set); null once the cgroup is gone */
  readBack: CgroupLimits | null;
  /** the files read for readBack, with their contents */
  files: CgroupFile[];
  /** linux.resources as the runtime was given them */
  configured: CgroupLimits;
}

export interface CgroupLimits {
  memoryBytes: number | null;
  memorySwapBytes: number | null;
  cpuQuotaUs: number | null;
  cpuPeriodUs: number | null;
  cpuShares: number | null;
  pids: number | null;
  cpusetCpus: string | null;
  cpusetMems: string | null;
}

export interface OverlayStep extends StepBase {
  mountpoint: string;
  /** whether the overlay is mounted now (in berthd's mount namespace, the host's) */
  mounted: boolean;
  /** lowerdirs bottom layer first (the image's order), upperdir and workdir as the mount table shows them */
  lowerdirs: string[];
  upperdir: string | null;
  workdir: string | null;
  /** the superblock options as /proc/self/mountinfo shows them */
  options: string | null;
  /** whether the lowerdirs are exactly the image's snapshot dirs in order */
  matchesImage: boolean;
}

export interface MountEntry {
  destination: string;
  type: string;
  source: string;
  options: string;
}

export interface RootfsStep extends StepBase {
  /** pivot_root(2), or chroot(2) when there is no mount namespace, from the trace */
  switchedBy: 'pivot_root' | 'chroot' | null;
  readonly: boolean;
  /** the container's mount table (/proc/PID/mountinfo) while it runs, the spec's mounts after */
  mounts: MountEntry[];
  /** binds, volumes and tmpfs the user asked for */
  userMounts: { type: string; source: string; destination: string; rw: boolean }[];
  maskedPaths: string[];
  readonlyPaths: string[];
}

export interface NetworkStep extends StepBase {
  /** what the container got: bridge (its endpoints below), none (a namespace with loopback only), host, container:NAME */
  mode: string;
  /** what was asked for (`default` is the default bridge) */
  requested: string;
  hostname: string;
  netns: 'new' | 'joined' | 'host' | null;
  /** the network namespace file the runtime joined (docker's SandboxKey), while it runs */
  sandbox: string | null;
  /** the interfaces seen in the container's network namespace (/proc/PID/net/dev) */
  interfaces: { name: string; rxBytes: number; txBytes: number }[] | null;
  /** one per bridge network: the veth pair from the bridge into the container, and the addresses */
  endpoints: NetworkEndpointInfo[];
  /** the container's routes (/proc/PID/net/route), while it runs */
  routes: { destination: string; gateway: string; device: string }[] | null;
  /** the DNAT of each published port, as berth's nftables table holds it */
  ports: { proto: string; host: string; target: string; table: string }[];
  /** how long each network step of the latest start took (ms); they run while the runtime creates the container */
  timings: Record<string, number> | null;
}

export interface NetworkEndpointInfo {
  network: string;
  bridge: string;
  /** the veth pair: its host end (on the bridge) and its end in the container */
  hostVeth: string;
  containerIf: string;
  mac: string;
  ipv4: string;
  gateway: string;
  ipv6: string;
  /** the DNS server answering this network's names (user networks) */
  dns: string | null;
}

export interface CapabilitySets {
  effective: string[];
  permitted: string[];
  inheritable: string[];
  bounding: string[];
  ambient: string[];
}

export interface SeccompRuleInfo {
  syscall: string;
  /** what the filter does with it: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO(1), … (`if args` when only conditional rules match) */
  action: string;
}

export interface SecurityStep extends StepBase {
  /** `/proc/PID/status` while it runs; the trace's capset/PR_CAPBSET_DROP values after */
  source: string;
  privileged: boolean;
  capabilities: CapabilitySets | null;
  /** docker's default set compared with the effective one (the bounding one when read from the trace) */
  droppedFromDefault: string[];
  addedToDefault: string[];
  seccomp: {
    /** 0 disabled, 1 strict, 2 filter (/proc/PID/status `Seccomp:`) */
    mode: number | null;
    filters: number | null;
    profile: { defaultAction: string; rules: number; syscalls: number; architectures: string[] } | null;
    notable: SeccompRuleInfo[];
  };
  noNewPrivs: boolean | null;
  user: { uid: number[]; gid: number[]; groups: number[] } | null;
}

export interface ExecStep extends StepBase {
  path: string;
  args: string[];
  /** the execve as berth-init made it, from the trace */
  execve: string | null;
  /** when execve was called (RFC 3339), from the trace */
  execAt: string | null;
  /** the init's command line now (/proc/PID/cmdline) */
  cmdline: string[] | null;
  cwd: string;
  env: number;
}

export interface MonitorInfo {
  pid: number | null;
  alive: boolean;
  rssKiB: number | null;
  logPath: string;
  attachSocket: string;
  ctlSocket: string;
  exitPath: string;
}

export interface Explanation {
  id: string;
  name: string;
  status: string;
  pid: number;
  exitCode: number | null;
  created: string;
  startedAt: string;
  finishedAt: string;
  /** true: namespaces, cgroups and security read from the running init; false: from the trace and config */
  live: boolean;
  startup: {
    create: Phase[];
    start: Phase[];
    createMs: number | null;
    startMs: number | null;
    /** from the start request to the user's program exec'd (engine clock to trace) */
    startToExecMs: number | null;
    /** from the create request to execve, for a container started once */
    createToExecMs: number | null;
  };
  steps: {
    image: ImageStep;
    directory: DirectoryStep;
    namespaces: NamespaceStep;
    cgroups: CgroupStep;
    overlay: OverlayStep;
    rootfs: RootfsStep;
    network: NetworkStep;
    security: SecurityStep;
    exec: ExecStep;
  };
  monitor: MonitorInfo;
  trace: TraceEntry[];
}
