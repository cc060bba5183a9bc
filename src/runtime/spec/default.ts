// The example config.json that `berth-oci spec` writes: runc 1.1's
// `runc spec` output (libcontainer/specconv Example() and ToRootless()),
// with the hostname changed from "runc" to "berth".
//
// Objects are built in the field order of the Go structs in runtime-spec's
// specs-go, so JSON.stringify(spec, null, '\t') + '\n' produces the same
// layout as runc's json.MarshalIndent output.
//
// Notes on what runc 1.1 does (checked against runc's specconv sources):
//  * capabilities: bounding, effective, permitted and ambient hold the three
//    RUNC_SPEC_CAPS. runc ≥ 1.1.2 dropped `inheritable` (CVE-2022-29162);
//    1.1.0/1.1.1 still listed it. Newer runc (1.2+) also drops `ambient`.
//  * the cgroup namespace: runc adds it only when the host is on cgroup v2
//    (unified mode). We add it by default; pass `cgroupNamespace: false` to
//    get the cgroup v1 output.
//  * maskedPaths: runc ≥ 1.2 appends "/sys/devices/virtual/tpm"; 1.1 does not.
//  * rootless (ToRootless): drops the network namespace and adds a user
//    namespace (last), maps container 0 to the caller's euid/egid (size 1),
//    replaces /sys by a read-only rbind of the host's /sys, strips `gid=`/
//    `uid=` options from every mount (so devpts loses gid=5 but keeps
//    ptmxmode=0666 and mode=0620), and drops linux.resources. runc does NOT
//    remove the /sys/fs/cgroup mount, so neither do we.

import { RUNC_SPEC_CAPS } from '../caps.ts';
import type { Mount, Namespace, Spec } from './types.ts';

export const DEFAULT_OCI_VERSION = '1.0.2-dev';
export const DEFAULT_HOSTNAME = 'berth';

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/proc/scsi',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

export interface DefaultSpecOptions {
  /** Apply runc's rootless conversion (`runc spec --rootless`). */
  rootless?: boolean;
  /** Include a cgroup namespace (runc: only on cgroup v2 hosts). Default true. */
  cgroupNamespace?: boolean;
  /** Host uid/gid mapped to container root when rootless; default: euid/egid. */
  uid?: number;
  gid?: number;
}

export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const caps = (): string[] => [...RUNC_SPEC_CAPS];
  const mounts: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ];
  const namespaces: Namespace[] = [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (opts.cgroupNamespace ?? true) namespaces.push({ type: 'cgroup' });

  const spec: Spec = {
    ociVersion: DEFAULT_OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: caps(), effective: caps(), permitted: caps(), ambient: caps() },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: DEFAULT_HOSTNAME,
    mounts,
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces,
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  return opts.rootless ? toRootless(spec, opts) : spec;
}

/** runc's specconv.ToRootless applied to `spec` (returns a new Spec). */
export function toRootless(spec: Spec, ids: { uid?: number; gid?: number } = {}): Spec {
  const uid = ids.uid ?? process.geteuid?.() ?? 0;
  const gid = ids.gid ?? process.getegid?.() ?? 0;
  const linux = spec.linux ?? {};

  const namespaces: Namespace[] = (linux.namespaces ?? []).filter((ns) => ns.type !== 'network' && ns.type !== 'user');
  namespaces.push({ type: 'user' });

  const mounts: Mount[] = (spec.mounts ?? []).map((m) => {
    if (normalize(m.destination) === '/sys') {
      return { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
    }
    const copy: Mount = { ...m };
    const options = (m.options ?? []).filter((o) => !o.startsWith('gid=') && !o.startsWith('uid='));
    if (options.length > 0) copy.options = options;
    else delete copy.options; // Go: nil slice, omitted by omitempty
    return copy;
  });

  // Rebuild linux in Go field order: uidMappings, gidMappings, sysctl,
  // resources (dropped), cgroupsPath, namespaces, devices, seccomp, ...
  const { uidMappings: _u, gidMappings: _g, resources: _r, namespaces: _n, ...rest } = linux;
  const { sysctl, cgroupsPath, ...tail } = rest;
  const newLinux = {
    uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
    gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
    ...(sysctl !== undefined ? { sysctl } : {}),
    ...(cgroupsPath !== undefined ? { cgroupsPath } : {}),
    namespaces,
    ...tail,
  };
  return { ...spec, mounts, linux: newLinux };
}

/** filepath.Clean for the purpose of comparing mount destinations. */
function normalize(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return (p.startsWith('/') ? '/' : '') + out.join('/') || '.';
}
