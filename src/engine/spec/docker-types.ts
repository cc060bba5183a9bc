/**
 * The Docker Engine API v1.41 shapes of `POST /containers/create` (moby api/types/container
 * Config, HostConfig, mount.Mount), as far as berth's flags use them. They live in the engine,
 * not in src/api, because the engine takes them as its input and imports only go downward; the
 * API layer decodes the request body into these types.
 */

/** container.Config (the request body's top level, minus HostConfig/NetworkingConfig). */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, object> | null;
  /** --mac-address (docker 20.10 sends it in Config) */
  MacAddress?: string;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: HealthConfig | null;
  ArgsEscaped?: boolean;
  Image?: string;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  /** null/absent: the image's; [""]: reset (no entrypoint, and the image's Cmd is not used) */
  Entrypoint?: string[] | null;
  NetworkDisabled?: boolean;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number | null;
}

export interface HealthConfig {
  Test?: string[] | null;
  /** nanoseconds */
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

/** mount.Mount (`--mount`). */
export interface MountSpec {
  Type: 'bind' | 'volume' | 'tmpfs' | 'npipe';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean } | null;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> } } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number } | null;
}

/** container.DeviceMapping (`--device`). */
export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

/** units.Ulimit (`--ulimit nofile=1024:2048`). */
export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface RestartPolicy {
  Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount?: number;
}

export interface LogConfig {
  Type: string;
  Config?: Record<string, string>;
}

/** container.HostConfig with the embedded Resources. */
export interface HostConfig {
  Binds?: string[] | null;
  ContainerIDFile?: string;
  LogConfig?: LogConfig;
  /** "" | "default" | "none" | "host" | "bridge" | "container:<name|id>" */
  NetworkMode?: string;
  PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }>> | null;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  VolumeDriver?: string;
  VolumesFrom?: string[] | null;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  CgroupnsMode?: '' | 'private' | 'host';
  Dns?: string[] | null;
  DnsOptions?: string[] | null;
  DnsSearch?: string[] | null;
  ExtraHosts?: string[] | null;
  GroupAdd?: string[] | null;
  /** "" | "private" | "shareable" | "none" | "host" | "container:<name|id>" */
  IpcMode?: string;
  /** "" | "host" | "container:<name|id>" */
  PidMode?: string;
  /** "" | "host" */
  UTSMode?: string;
  Privileged?: boolean;
  PublishAllPorts?: boolean;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  StorageOpt?: Record<string, string> | null;
  /** destination → tmpfs options ("size=64m,mode=1777") */
  Tmpfs?: Record<string, string> | null;
  /** bytes; 0: the default 64 MiB */
  ShmSize?: number;
  Sysctls?: Record<string, string> | null;
  Runtime?: string;
  Mounts?: MountSpec[] | null;
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
  Init?: boolean | null;
  OomScoreAdj?: number;

  // Resources
  CpuShares?: number;
  /** bytes; 0: unlimited */
  Memory?: number;
  NanoCpus?: number;
  CgroupParent?: string;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpuRealtimePeriod?: number;
  CpuRealtimeRuntime?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  Devices?: DeviceMapping[] | null;
  DeviceCgroupRules?: string[] | null;
  MemoryReservation?: number;
  /** memory + swap in bytes; -1: unlimited swap; 0: twice Memory (docker's default) */
  MemorySwap?: number;
  MemorySwappiness?: number | null;
  OomKillDisable?: boolean | null;
  /** null/0/negative: unlimited */
  PidsLimit?: number | null;
  Ulimits?: Ulimit[] | null;
}

/** The image config blob's `config` object: the parts a container takes from its image. */
export interface ImageRunConfig {
  User?: string;
  ExposedPorts?: Record<string, object> | null;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  Healthcheck?: HealthConfig | null;
}
