// Linux capability numbers (include/uapi/linux/capability.h), 0 … 40.

const NAMES: readonly string[] = [
  'CAP_CHOWN', // 0
  'CAP_DAC_OVERRIDE', // 1
  'CAP_DAC_READ_SEARCH', // 2
  'CAP_FOWNER', // 3
  'CAP_FSETID', // 4
  'CAP_KILL', // 5
  'CAP_SETGID', // 6
  'CAP_SETUID', // 7
  'CAP_SETPCAP', // 8
  'CAP_LINUX_IMMUTABLE', // 9
  'CAP_NET_BIND_SERVICE', // 10
  'CAP_NET_BROADCAST', // 11
  'CAP_NET_ADMIN', // 12
  'CAP_NET_RAW', // 13
  'CAP_IPC_LOCK', // 14
  'CAP_IPC_OWNER', // 15
  'CAP_SYS_MODULE', // 16
  'CAP_SYS_RAWIO', // 17
  'CAP_SYS_CHROOT', // 18
  'CAP_SYS_PTRACE', // 19
  'CAP_SYS_PACCT', // 20
  'CAP_SYS_ADMIN', // 21
  'CAP_SYS_BOOT', // 22
  'CAP_SYS_NICE', // 23
  'CAP_SYS_RESOURCE', // 24
  'CAP_SYS_TIME', // 25
  'CAP_SYS_TTY_CONFIG', // 26
  'CAP_MKNOD', // 27
  'CAP_LEASE', // 28
  'CAP_AUDIT_WRITE', // 29
  'CAP_AUDIT_CONTROL', // 30
  'CAP_SETFCAP', // 31
  'CAP_MAC_OVERRIDE', // 32
  'CAP_MAC_ADMIN', // 33
  'CAP_SYSLOG', // 34
  'CAP_WAKE_ALARM', // 35
  'CAP_BLOCK_SUSPEND', // 36
  'CAP_AUDIT_READ', // 37
  'CAP_PERFMON', // 38
  'CAP_BPF', // 39
  'CAP_CHECKPOINT_RESTORE', // 40
];

/** Full capability name ("CAP_CHOWN") → capability number. */
export const CAPABILITIES: ReadonlyMap<string, number> = new Map(NAMES.map((name, i) => [name, i]));

/** Highest capability number this table knows (CAP_LAST_CAP). */
export const CAP_LAST_CAP = NAMES.length - 1;

/**
 * Capability number for `name`, accepting "CAP_NET_ADMIN", "NET_ADMIN",
 * "net_admin", "cap_net_admin" (docker/runc CLI style). undefined if unknown.
 */
export function capNumber(name: string): number | undefined {
  const upper = name.trim().toUpperCase();
  return CAPABILITIES.get(upper.startsWith('CAP_') ? upper : `CAP_${upper}`);
}

/** Full name of capability number `n`, or undefined. */
export function capName(n: number): string | undefined {
  return NAMES[n];
}

/** Bit mask with bit n set for every capability n in `names`. */
export function capMask(names: readonly string[]): bigint {
  let mask = 0n;
  for (const name of names) {
    const n = capNumber(name);
    if (n === undefined) throw new Error(`unknown capability ${JSON.stringify(name)}`);
    mask |= 1n << BigInt(n);
  }
  return mask;
}

/** Docker's default capability set (moby oci/caps), in docker's order; runc's
 *  default spec for `docker run` containers carries the same 14. */
export const DEFAULT_CAPS: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** The capabilities `runc spec` puts in its example config.json. */
export const RUNC_SPEC_CAPS: readonly string[] = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
