/**
 * Facts about the host `/info` and `/version` report, gathered once when the engine opens (none
 * of them change while berthd runs): kernel, distribution, cgroup layout as the runtime detects
 * it, CPUs and memory, the filesystem under the data root.
 */
import { readFile, statfs } from 'node:fs/promises';
import { availableParallelism, hostname, release, totalmem } from 'node:os';

import { detectLayout } from '../runtime/cgroups/layout.ts';

export interface HostFacts {
  kernelVersion: string;
  /** PRETTY_NAME of /etc/os-release */
  operatingSystem: string;
  osVersion: string;
  /** docker's GOARCH names: amd64, arm64 */
  architecture: string;
  ncpu: number;
  memTotal: number;
  hostname: string;
  cgroupVersion: '1' | '2';
  /** controllers berth can set limits with */
  controllers: Set<string>;
  /** the filesystem the data root is on, as docker names it (extfs, xfs, btrfs, tmpfs…) */
  backingFilesystem: string;
  /** the host's sysctls docker reports (berth sets none of them: no bridge network yet) */
  ipv4Forwarding: boolean;
  bridgeNfIptables: boolean;
  bridgeNfIp6tables: boolean;
}

async function sysctlOn(path: string): Promise<boolean> {
  try {
    return (await readFile(path, 'utf8')).trim() === '1';
  } catch {
    return false;
  }
}

const GOARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm: 'arm', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
/** docker's `uname -m` spelling of Architecture in /info */
const UNAME_M: Record<string, string> = { x64: 'x86_64', ia32: 'i686', arm: 'armv7l', arm64: 'aarch64', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

export const goArch = (): string => GOARCH[process.arch] ?? process.arch;
export const unameMachine = (): string => UNAME_M[process.arch] ?? process.arch;

/** statfs f_type → docker's name for the backing filesystem */
const FS_MAGIC: Record<number, string> = {
  0xef53: 'extfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x01021994: 'tmpfs', 0x794c7630: 'overlayfs', 0x2fc12fc1: 'zfs', 0x6969: 'nfs',
};

async function osRelease(): Promise<Record<string, string>> {
  for (const f of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      const out: Record<string, string> = {};
      for (const line of (await readFile(f, 'utf8')).split('\n')) {
        const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
        if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
      }
      return out;
    } catch {
      // the next candidate
    }
  }
  return {};
}

export async function hostFacts(dataRoot: string): Promise<HostFacts> {
  const os = await osRelease();
  const layout = detectLayout(await readFile('/proc/self/mountinfo', 'utf8'));
  const controllers = new Set(layout.kind === 'v2' ? (layout.unified?.controllers ?? []) : layout.hierarchies.filter((h) => h.version === 1).flatMap((h) => h.controllers));
  let backingFilesystem = 'unknown';
  try {
    const s = await statfs(dataRoot);
    backingFilesystem = FS_MAGIC[s.type] ?? `0x${s.type.toString(16)}`;
  } catch {
    // reported as unknown
  }
  return {
    kernelVersion: release(),
    operatingSystem: os.PRETTY_NAME ?? 'Linux',
    osVersion: os.VERSION_ID ?? '',
    architecture: unameMachine(),
    ncpu: availableParallelism(),
    memTotal: totalmem(),
    hostname: hostname(),
    cgroupVersion: layout.kind === 'v2' ? '2' : '1',
    controllers,
    backingFilesystem,
    ipv4Forwarding: await sysctlOn('/proc/sys/net/ipv4/ip_forward'),
    bridgeNfIptables: await sysctlOn('/proc/sys/net/bridge/bridge-nf-call-iptables'),
    bridgeNfIp6tables: await sysctlOn('/proc/sys/net/bridge/bridge-nf-call-ip6tables'),
  };
}
