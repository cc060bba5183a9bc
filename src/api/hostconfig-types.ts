/**
 * The JSON types of HostConfig's fields, checked as Go's decoder does before anything is made:
 * dockerd answers a value of the wrong type (`"Memory": "12q"`) with a 400 naming the field and
 * the type it wants, and so must berthd rather than carry the value into the spec builder.
 */
import { InvalidParameterError } from '../engine/errors.ts';

type Kind = 'int64' | 'uint16' | 'bool' | 'string' | '[]string' | 'object' | 'array';

const FIELDS: Record<string, Kind> = {
  Binds: '[]string', ContainerIDFile: 'string', LogConfig: 'object', NetworkMode: 'string', PortBindings: 'object',
  RestartPolicy: 'object', AutoRemove: 'bool', VolumeDriver: 'string', VolumesFrom: '[]string', CapAdd: '[]string',
  CapDrop: '[]string', CgroupnsMode: 'string', Dns: '[]string', DnsOptions: '[]string', DnsSearch: '[]string',
  ExtraHosts: '[]string', GroupAdd: '[]string', IpcMode: 'string', Cgroup: 'string', Links: '[]string', OomScoreAdj: 'int64',
  PidMode: 'string', Privileged: 'bool', PublishAllPorts: 'bool', ReadonlyRootfs: 'bool', SecurityOpt: '[]string',
  StorageOpt: 'object', Tmpfs: 'object', UTSMode: 'string', UsernsMode: 'string', ShmSize: 'int64', Sysctls: 'object',
  Runtime: 'string', Isolation: 'string', Mounts: 'array', MaskedPaths: '[]string', ReadonlyPaths: '[]string', Init: 'bool',
  CpuShares: 'int64', Memory: 'int64', NanoCpus: 'int64', CgroupParent: 'string', BlkioWeight: 'uint16', CpuPeriod: 'int64',
  CpuQuota: 'int64', CpuRealtimePeriod: 'int64', CpuRealtimeRuntime: 'int64', CpusetCpus: 'string', CpusetMems: 'string',
  Devices: 'array', DeviceCgroupRules: '[]string', KernelMemory: 'int64', KernelMemoryTCP: 'int64', MemoryReservation: 'int64',
  MemorySwap: 'int64', MemorySwappiness: 'int64', OomKillDisable: 'bool', PidsLimit: 'int64', Ulimits: 'array',
  CpuCount: 'int64', CpuPercent: 'int64', IOMaximumIOps: 'int64', IOMaximumBandwidth: 'int64',
};

/** Go's name for a JSON value's type in its UnmarshalTypeError */
function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}

function fits(kind: Kind, v: unknown): boolean {
  switch (kind) {
    case 'int64': return typeof v === 'number' && Number.isInteger(v);
    case 'uint16': return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff;
    case 'bool': return typeof v === 'boolean';
    case 'string': return typeof v === 'string';
    case '[]string': return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'object': return typeof v === 'object' && !Array.isArray(v);
    case 'array': return Array.isArray(v);
  }
}

/** Throws docker's 400 for the first field of `hc` whose JSON type is not the one Go decodes it as (null is always fine). */
export function checkHostConfigTypes(hc: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(hc)) {
    const kind = FIELDS[k];
    if (kind === undefined || v === null || fits(kind, v)) continue;
    const goType = kind === 'object' || kind === 'array' ? `${kind === 'array' ? '[]' : ''}${k}` : kind;
    throw new InvalidParameterError(`json: cannot unmarshal ${jsonType(v)} into Go struct field HostConfig.HostConfig.${k} of type ${goType}`);
  }
}
