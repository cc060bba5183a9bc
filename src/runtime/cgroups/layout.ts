import { readFileSync } from 'node:fs';

/** One mounted cgroup hierarchy of the host. */
export interface Hierarchy {
  /** "unified" for cgroup2, else the v1 controllers joined with "," (or "name=systemd") */
  name: string;
  version: 1 | 2;
  mountPoint: string;
  controllers: string[];
}

export interface CgroupLayout {
  kind: 'v1' | 'v2' | 'hybrid';
  hierarchies: Hierarchy[];
  unified?: Hierarchy;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Reads /proc/self/mountinfo: v1, v2 or hybrid is decided by what is mounted, at run time. */
export function detectLayout(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): CgroupLayout {
  const hierarchies: Hierarchy[] = [];
  const seen = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const fstype = post[0];
    const mountPoint = unescape(pre[4] ?? '');
    if (fstype === 'cgroup2') {
      if (seen.has('unified')) continue;
      seen.add('unified');
      let controllers: string[] = [];
      try {
        controllers = readFileSync(`${mountPoint}/cgroup.controllers`, 'utf8').trim().split(/\s+/).filter(Boolean);
      } catch { /* unreadable: treat as none */ }
      hierarchies.push({ name: 'unified', version: 2, mountPoint, controllers });
    } else if (fstype === 'cgroup') {
      const opts = (post[2] ?? '').split(',');
      const known = new Set(['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'hugetlb', 'net_cls', 'net_prio', 'perf_event', 'rdma', 'misc']);
      const controllers = opts.filter((o) => known.has(o) || o.startsWith('name='));
      const name = controllers.join(',');
      if (!name || seen.has(name)) continue;
      seen.add(name);
      hierarchies.push({ name, version: 1, mountPoint, controllers });
    }
  }
  const v1 = hierarchies.some((h) => h.version === 1);
  const unified = hierarchies.find((h) => h.version === 2);
  return { kind: v1 && unified ? 'hybrid' : v1 ? 'v1' : 'v2', hierarchies, unified };
}

/** runtime-spec cgroupsPath: absolute as given; relative under /berth; default /berth/<id>. */
export function resolveCgroupsPath(cgroupsPath: string | undefined, id: string): string {
  if (!cgroupsPath) return `/berth/${id}`;
  if (cgroupsPath.includes(':')) {
    throw new Error(`cgroupsPath "${cgroupsPath}" looks like a systemd slice:prefix:name path; berth-oci manages cgroupfs only (no --systemd-cgroup)`);
  }
  const p = cgroupsPath.startsWith('/') ? cgroupsPath : `/berth/${cgroupsPath}`;
  const parts = p.split('/').filter(Boolean);
  if (parts.some((x) => x === '..' || x === '.')) throw new Error(`cgroupsPath "${cgroupsPath}" may not contain . or .. components`);
  return '/' + parts.join('/');
}
