/**
 * What a docker 20.10 container gets unless told otherwise (moby oci/defaults.go,
 * oci/caps/defaults.go, daemon/oci_linux.go): the capability set, the mounts, the masked and
 * read-only /proc and /sys paths, the device cgroup rules for the devices every container has.
 */
import { DEFAULT_CAPS } from '../../runtime/caps.ts';
import type { DeviceCgroupRule, Mount } from '../../runtime/spec/types.ts';

/** docker's 14 default capabilities, in docker's order (one list for the runtime and the engine). */
export const DOCKER_DEFAULT_CAPS: readonly string[] = DEFAULT_CAPS;

/** docker's default /dev/shm size (64 MiB). */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** Where docker mounts its init; `--init` runs it as PID 1 with `--` before the command. */
export const INIT_PATH_IN_CONTAINER = '/sbin/docker-init';

/** Debian's `tini` package: the static build, so it runs in any image. */
export const DEFAULT_INIT_BINARY = '/usr/bin/tini-static';

export const DEFAULT_PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const DOCKER_MASKED_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const DOCKER_READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/** The mounts every container starts with, in docker's order; /dev/shm gets its size later. */
export function dockerDefaultMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777'] },
  ];
}

/**
 * Deny everything, then allow the devices the runtime creates in every container (null, zero,
 * full, random, urandom, tty, console; /dev/ptmx comes from devpts) and deny /dev/net/tun.
 */
export function dockerDefaultDeviceRules(): DeviceCgroupRule[] {
  const allow = (major: number, minor: number): DeviceCgroupRule => ({ allow: true, type: 'c', major, minor, access: 'rwm' });
  return [
    { allow: false, access: 'rwm' },
    allow(1, 5), // zero
    allow(1, 3), // null
    allow(1, 9), // urandom
    allow(1, 8), // random
    allow(5, 0), // tty
    allow(5, 1), // console
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' }, // /dev/net/tun
  ];
}
