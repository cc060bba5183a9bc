// cgroup layout detection (src/runtime/cgroups/layout.ts) and placement (placement.ts), against
// fake mountinfo texts and a temp-dir fake cgroupfs. Nothing here writes to the real /sys/fs/cgroup.
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { detectLayout, resolveCgroupsPath } from '../../src/runtime/cgroups/layout.ts';
import type { CgroupLayout, Hierarchy } from '../../src/runtime/cgroups/layout.ts';
import { cgroupPids, createCgroup, removeCgroup } from '../../src/runtime/cgroups/placement.ts';
import type { CgroupPlacement } from '../../src/runtime/cgroups/placement.ts';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'berth-cgroup-test-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// mountinfo samples

/** CentOS 7 style: cgroup v1 only. */
const V1_MOUNTINFO = `\
18 41 0:17 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw
25 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:22 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:26 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpuset
31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,net_cls,net_prio
33 25 0:29 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,pids
41 1 253:0 / / rw,relatime shared:1 - xfs /dev/mapper/root rw,attr2,inode64,noquota
`;

function v2Mountinfo(mountPoint: string): string {
  return `\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 22 0:23 / ${mountPoint} rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
1 0 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
`;
}

/** Ubuntu 20.04 style: v1 controllers plus the v2 hierarchy at /sys/fs/cgroup/unified. */
function hybridMountinfo(unifiedMountPoint: string): string {
  return `\
31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:29 / ${unifiedMountPoint} rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
33 31 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
35 31 0:32 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpuset
36 31 0:33 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory
`;
}

describe('detectLayout', () => {
  test('pure v1: kind v1, one hierarchy per cgroup mount, no unified', () => {
    const l = detectLayout(V1_MOUNTINFO);
    assert.equal(l.kind, 'v1');
    assert.equal(l.unified, undefined);
    assert.deepEqual(l.hierarchies.map((h) => [h.name, h.version, h.mountPoint]), [
      ['name=systemd', 1, '/sys/fs/cgroup/systemd'],
      ['cpu,cpuacct', 1, '/sys/fs/cgroup/cpu,cpuacct'],
      ['cpuset', 1, '/sys/fs/cgroup/cpuset'],
      ['memory', 1, '/sys/fs/cgroup/memory'],
      ['net_cls,net_prio', 1, '/sys/fs/cgroup/net_cls,net_prio'],
      ['pids', 1, '/sys/fs/cgroup/pids'],
    ]);
  });

  test('v1 controllers come from the super options; rw, xattr and release_agent= are not controllers', () => {
    const l = detectLayout(V1_MOUNTINFO);
    assert.deepEqual(l.hierarchies[0]!.controllers, ['name=systemd']);
    assert.deepEqual(l.hierarchies[1]!.controllers, ['cpu', 'cpuacct']);
  });

  test('pure v2: kind v2, the unified hierarchy with controllers read from its cgroup.controllers', () => {
    writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
    const l = detectLayout(v2Mountinfo(root));
    assert.equal(l.kind, 'v2');
    assert.equal(l.hierarchies.length, 1);
    assert.deepEqual(l.unified, { name: 'unified', version: 2, mountPoint: root, controllers: ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'] });
    assert.equal(l.hierarchies[0], l.unified);
  });

  test('v2 with an unreadable (missing) cgroup.controllers: no controllers, still v2', () => {
    const l = detectLayout(v2Mountinfo(join(root, 'nowhere')));
    assert.equal(l.kind, 'v2');
    assert.deepEqual(l.unified!.controllers, []);
  });

  test('v2 with an empty cgroup.controllers (every controller bound to v1) has zero controllers, not [""]', () => {
    writeFileSync(join(root, 'cgroup.controllers'), '\n');
    assert.deepEqual(detectLayout(v2Mountinfo(root)).unified!.controllers, []);
  });

  test('hybrid: v1 hierarchies plus the unified one', () => {
    writeFileSync(join(root, 'cgroup.controllers'), '');
    const l = detectLayout(hybridMountinfo(root));
    assert.equal(l.kind, 'hybrid');
    assert.deepEqual(l.hierarchies.map((h) => h.name), ['unified', 'name=systemd', 'cpuset', 'memory']);
    assert.equal(l.unified!.mountPoint, root);
    assert.equal(l.unified!.version, 2);
  });

  test('the same hierarchy mounted twice (e.g. bind-mounted into a container) keeps the first mount point', () => {
    const text = V1_MOUNTINFO + '90 41 0:27 / /var/lib/x/sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n' +
      '91 41 0:23 / /var/lib/x/unified rw,relatime - cgroup2 cgroup2 rw\n' + v2Mountinfo('/sys/fs/cgroup/unified');
    const l = detectLayout(text);
    assert.deepEqual(l.hierarchies.filter((h) => h.name === 'memory').map((h) => h.mountPoint), ['/sys/fs/cgroup/memory']);
    assert.deepEqual(l.hierarchies.filter((h) => h.version === 2).map((h) => h.mountPoint), ['/var/lib/x/unified']);
  });

  test('octal escapes in mount points are decoded (\\040 is a space)', () => {
    const l = detectLayout('40 31 0:37 / /mnt/my\\040cgroups/pids rw,relatime - cgroup cgroup rw,pids\n');
    assert.equal(l.hierarchies[0]!.mountPoint, '/mnt/my cgroups/pids');
  });

  test('a v1 mount with no known controller (none,name= missing) is skipped', () => {
    const l = detectLayout('40 31 0:37 / /mnt/weird rw,relatime - cgroup cgroup rw,xattr\n');
    assert.equal(l.hierarchies.length, 0);
  });

  test('a cgroup2 line among blank and malformed lines is still found', () => {
    const l = detectLayout(`\n\ngarbage without separator\n${v2Mountinfo(join(root, 'x'))}\n`);
    assert.equal(l.kind, 'v2');
    assert.equal(l.hierarchies.length, 1);
  });

  test('this machine\'s /proc/self/mountinfo is classified as its cgroup lines say (hybrid here)', () => {
    const text = readFileSync('/proc/self/mountinfo', 'utf8');
    const hasV1 = /\s-\scgroup\s/.test(text);
    const hasV2 = /\s-\scgroup2\s/.test(text);
    const want = hasV1 && hasV2 ? 'hybrid' : hasV1 ? 'v1' : 'v2';
    const l = detectLayout(text);
    assert.equal(l.kind, want);
    if (want === 'hybrid') {
      assert.ok(l.unified, 'hybrid has a unified hierarchy');
      assert.ok(l.hierarchies.some((h) => h.version === 1 && h.controllers.length > 0));
    }
  });

  test('the default argument reads /proc/self/mountinfo (same result as passing it)', () => {
    assert.deepEqual(detectLayout(), detectLayout(readFileSync('/proc/self/mountinfo', 'utf8')));
  });
});

describe('resolveCgroupsPath', () => {
  test('no cgroupsPath (undefined or empty): /berth/<id>', () => {
    assert.equal(resolveCgroupsPath(undefined, 'c1'), '/berth/c1');
    assert.equal(resolveCgroupsPath('', 'c1'), '/berth/c1');
  });

  test('a relative path goes under /berth', () => {
    assert.equal(resolveCgroupsPath('tenant/c1', 'ignored'), '/berth/tenant/c1');
  });

  test('an absolute path is kept as given (normalised: duplicate and trailing slashes)', () => {
    assert.equal(resolveCgroupsPath('/machine/c1', 'x'), '/machine/c1');
    assert.equal(resolveCgroupsPath('//machine///c1/', 'x'), '/machine/c1');
  });

  test('.. is rejected, absolute or relative (no escaping /berth or the hierarchy)', () => {
    assert.throws(() => resolveCgroupsPath('../escape', 'x'), /may not contain \. or \.\./);
    assert.throws(() => resolveCgroupsPath('/a/../../b', 'x'), /may not contain/);
  });

  test('a lone . component is rejected too', () => {
    assert.throws(() => resolveCgroupsPath('./c1', 'x'), /may not contain/);
  });

  test('a name that merely contains dots (c1..x, .hidden) is fine', () => {
    assert.equal(resolveCgroupsPath('/a/c1..x', 'x'), '/a/c1..x');
    assert.equal(resolveCgroupsPath('.hidden', 'x'), '/berth/.hidden');
  });

  test('a systemd slice:prefix:name path is rejected (cgroupfs only)', () => {
    assert.throws(() => resolveCgroupsPath('system.slice:berth:c1', 'c1'), /systemd slice:prefix:name/);
  });
});

// ---------------------------------------------------------------------------------------------
// placement, on a fake cgroupfs

function hier(name: string, version: 1 | 2, controllers: string[]): Hierarchy {
  const mountPoint = join(root, version === 2 ? 'unified' : name);
  mkdirSync(mountPoint, { recursive: true });
  return { name, version, mountPoint, controllers };
}

function layoutOf(...hs: Hierarchy[]): CgroupLayout {
  const unified = hs.find((h) => h.version === 2);
  const v1 = hs.some((h) => h.version === 1);
  return { kind: v1 && unified ? 'hybrid' : v1 ? 'v1' : 'v2', hierarchies: hs, unified };
}

/**
 * A real cgroupfs fills a new directory with interface files; a plain directory does not. This
 * wraps node:fs mkdirSync (the binding placement.ts imports, via syncBuiltinESMExports) so that
 * mkdir under `under` creates empty cpuset.cpus/cpuset.mems, as the kernel does for a cpuset
 * cgroup (v1, or v2 with cpuset in the parent's subtree_control).
 */
const fsCjs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
function withCpusetFiles<T>(under: string, fn: () => T, initial = ''): T {
  const orig = fsCjs.mkdirSync;
  fsCjs.mkdirSync = ((p: string, opts?: unknown) => {
    const r = (orig as (p: string, o?: unknown) => unknown)(p, opts);
    if (String(p).startsWith(under + '/')) {
      writeFileSync(join(String(p), 'cpuset.cpus'), initial);
      writeFileSync(join(String(p), 'cpuset.mems'), initial);
    }
    return r;
  }) as typeof fsCjs.mkdirSync;
  syncBuiltinESMExports();
  try {
    return fn();
  } finally {
    fsCjs.mkdirSync = orig;
    syncBuiltinESMExports();
  }
}

describe('createCgroup', () => {
  test('makes <path> in every hierarchy; dirs are the leaves, created lists every level it made', () => {
    const mem = hier('memory', 1, ['memory']);
    const uni = hier('unified', 2, []);
    const p = createCgroup(layoutOf(mem, uni), '/berth/c1');
    assert.equal(p.path, '/berth/c1');
    assert.deepEqual(p.dirs, [`${mem.mountPoint}/berth/c1`, `${uni.mountPoint}/berth/c1`]);
    assert.deepEqual(new Set(p.created), new Set([
      `${mem.mountPoint}/berth`, `${mem.mountPoint}/berth/c1`, `${uni.mountPoint}/berth`, `${uni.mountPoint}/berth/c1`,
    ]));
    for (const d of p.dirs) assert.ok(existsSync(d), d);
  });

  test('the shared /berth parent removed by another container\'s delete between two mkdirs: the walk starts again', () => {
    const mem = hier('memory', 1, ['memory']);
    const leaf = `${mem.mountPoint}/berth/race1`;
    const orig = fsCjs.mkdirSync;
    let raced = 0;
    // the other container's delete: rmdir of the (empty) parent just before our leaf's mkdir, twice
    fsCjs.mkdirSync = ((p: string, opts?: unknown) => {
      if (String(p) === leaf && raced < 2) {
        raced++;
        rmdirSync(`${mem.mountPoint}/berth`);
      }
      return (orig as (p: string, o?: unknown) => unknown)(p, opts);
    }) as typeof fsCjs.mkdirSync;
    syncBuiltinESMExports();
    try {
      const p = createCgroup(layoutOf(mem), '/berth/race1');
      assert.equal(raced, 2);
      assert.ok(existsSync(leaf));
      assert.deepEqual(p.created.sort(), [`${mem.mountPoint}/berth`, leaf]);
      assert.deepEqual(removeCgroup(p), []);
      assert.ok(!existsSync(`${mem.mountPoint}/berth`));
    } finally {
      fsCjs.mkdirSync = orig;
      syncBuiltinESMExports();
    }
  });

  test('an already existing leaf is used but not recorded as created (so it is never removed)', () => {
    const mem = hier('memory', 1, ['memory']);
    mkdirSync(join(mem.mountPoint, 'machine', 'c1'), { recursive: true });
    const p = createCgroup(layoutOf(mem), '/machine/c1');
    assert.deepEqual(p.dirs, [`${mem.mountPoint}/machine/c1`]);
    assert.deepEqual(p.created, []);
  });

  test('v1 cpuset: a new dir gets its parent\'s cpus and mems copied (an empty file means no CPUs)', () => {
    const cs = hier('cpuset', 1, ['cpuset']);
    writeFileSync(join(cs.mountPoint, 'cpuset.cpus'), '0-3\n');
    writeFileSync(join(cs.mountPoint, 'cpuset.mems'), '0\n');
    const p = withCpusetFiles(cs.mountPoint, () => createCgroup(layoutOf(cs), '/berth/c1'));
    for (const d of [`${cs.mountPoint}/berth`, `${cs.mountPoint}/berth/c1`]) {
      assert.equal(readFileSync(join(d, 'cpuset.cpus'), 'utf8'), '0-3', d);
      assert.equal(readFileSync(join(d, 'cpuset.mems'), 'utf8'), '0', d);
    }
    assert.equal(p.created.length, 2);
  });

  test('v1 cpuset: a new dir whose values are already set (cgroup.clone_children) keeps them', () => {
    const cs = hier('cpuset', 1, ['cpuset']);
    writeFileSync(join(cs.mountPoint, 'cpuset.cpus'), '0-3\n');
    writeFileSync(join(cs.mountPoint, 'cpuset.mems'), '0\n');
    withCpusetFiles(cs.mountPoint, () => createCgroup(layoutOf(cs), '/berth/c1'), '2\n');
    assert.equal(readFileSync(join(cs.mountPoint, 'berth/c1/cpuset.cpus'), 'utf8'), '2\n');
  });

  test('v1 cpuset: an empty berth parent is filled from the nearest ancestor with values', () => {
    const cs = hier('cpuset', 1, ['cpuset']);
    writeFileSync(join(cs.mountPoint, 'cpuset.cpus'), '0-1');
    writeFileSync(join(cs.mountPoint, 'cpuset.mems'), '0');
    mkdirSync(join(cs.mountPoint, 'berth'));
    writeFileSync(join(cs.mountPoint, 'berth', 'cpuset.cpus'), '');
    writeFileSync(join(cs.mountPoint, 'berth', 'cpuset.mems'), '');
    withCpusetFiles(cs.mountPoint, () => createCgroup(layoutOf(cs), '/berth/c1'));
    assert.equal(readFileSync(join(cs.mountPoint, 'berth/cpuset.cpus'), 'utf8'), '0-1');
    assert.equal(readFileSync(join(cs.mountPoint, 'berth/c1/cpuset.cpus'), 'utf8'), '0-1');
  });

  test('v1 cpuset: empty all the way to the root is a clear error', () => {
    const cs = hier('cpuset', 1, ['cpuset']);
    writeFileSync(join(cs.mountPoint, 'cpuset.cpus'), '');
    writeFileSync(join(cs.mountPoint, 'cpuset.mems'), '0');
    // (the clean-up itself is tested elsewhere: a fake cgroupfs cannot rmdir dirs that hold files)
    assert.throws(() => withCpusetFiles(cs.mountPoint, () => createCgroup(layoutOf(cs), '/berth/c1')), /no ancestor has a value/);
  });

  test('v1 cpuset: an existing intermediate dir is neither created nor copied into', () => {
    const cs = hier('cpuset', 1, ['cpuset']);
    writeFileSync(join(cs.mountPoint, 'cpuset.cpus'), '0-3');
    writeFileSync(join(cs.mountPoint, 'cpuset.mems'), '0');
    mkdirSync(join(cs.mountPoint, 'berth'));
    writeFileSync(join(cs.mountPoint, 'berth', 'cpuset.cpus'), '1');
    writeFileSync(join(cs.mountPoint, 'berth', 'cpuset.mems'), '0');
    const p = withCpusetFiles(cs.mountPoint, () => createCgroup(layoutOf(cs), '/berth/c1'));
    assert.equal(readFileSync(join(cs.mountPoint, 'berth/cpuset.cpus'), 'utf8'), '1');
    assert.equal(readFileSync(join(cs.mountPoint, 'berth/c1/cpuset.cpus'), 'utf8'), '1', 'copied from its real parent');
    assert.ok(p.created.includes(`${cs.mountPoint}/berth/c1`));
  });

  test('v2 with cpuset among the controllers: nothing is copied (the v2 root has no cpuset.cpus, an empty one inherits)', () => {
    // the fake kernel: cpuset enabled in subtree_control, so children get empty cpuset.cpus/mems,
    // while the root cgroup has none (as on a real v2 host)
    const uni = hier('unified', 2, ['cpuset', 'cpu', 'io', 'memory', 'pids']);
    const p = withCpusetFiles(uni.mountPoint, () => createCgroup(layoutOf(uni), '/berth/c1'));
    assert.deepEqual(p.dirs, [`${uni.mountPoint}/berth/c1`]);
    assert.equal(readFileSync(join(uni.mountPoint, 'berth/c1/cpuset.cpus'), 'utf8'), '', 'left empty: v2 inherits');
  });

  test('a failure part-way removes what it had made in every hierarchy and names the cgroup path', () => {
    // the cpuset hierarchy is a plain dir: mkdir makes no cpuset.cpus, so reading it fails
    const mem = hier('memory', 1, ['memory']);
    const cs = hier('cpuset', 1, ['cpuset']);
    assert.throws(() => createCgroup(layoutOf(mem, cs), '/berth/c1'), /^Error: cgroup \/berth\/c1: .*ENOENT/);
    assert.deepEqual(readdirSync(mem.mountPoint), [], 'memory hierarchy cleaned up');
    assert.deepEqual(readdirSync(cs.mountPoint), [], 'cpuset hierarchy cleaned up');
  });
});

describe('removeCgroup', () => {
  test('removes only what it created, deepest first, and keeps a pre-existing parent', () => {
    const mem = hier('memory', 1, ['memory']);
    const uni = hier('unified', 2, []);
    mkdirSync(join(mem.mountPoint, 'custom'));
    mkdirSync(join(uni.mountPoint, 'custom'));
    const p = createCgroup(layoutOf(mem, uni), '/custom/a/b');
    assert.deepEqual(removeCgroup(p), []);
    for (const h of [mem, uni]) {
      assert.ok(existsSync(join(h.mountPoint, 'custom')), 'pre-existing parent kept');
      assert.ok(!existsSync(join(h.mountPoint, 'custom/a')), 'created intermediate removed');
    }
  });

  test('the removal order does not depend on the order of created (shallow first in the record)', () => {
    const mem = hier('memory', 1, ['memory']);
    mkdirSync(join(mem.mountPoint, 'x/y/z'), { recursive: true });
    const d = (s: string) => join(mem.mountPoint, s);
    const p: CgroupPlacement = { path: '/x/y/z', dirs: [d('x/y/z')], created: [d('x'), d('x/y'), d('x/y/z')] };
    assert.deepEqual(removeCgroup(p), []);
    assert.deepEqual(readdirSync(mem.mountPoint), []);
  });

  test('a /berth parent made by another container is removed by whoever is deleted last (c1 last)', () => {
    const mem = hier('memory', 1, ['memory']);
    const l = layoutOf(mem);
    const c1 = createCgroup(l, '/berth/c1');
    const c2 = createCgroup(l, '/berth/c2');
    assert.ok(c2.created.includes(`${mem.mountPoint}/berth`), 'c2 records the shared /berth although c1 made it');
    assert.deepEqual(removeCgroup(c2), [], 'a busy shared parent is not an error');
    assert.ok(existsSync(join(mem.mountPoint, 'berth')), '/berth stays while c1 is in it');
    assert.deepEqual(removeCgroup(c1), []);
    assert.ok(!existsSync(join(mem.mountPoint, 'berth')), '/berth removed with the last container');
  });

  test('a /berth parent is removed by whoever is deleted last (maker first, c2 last)', () => {
    const mem = hier('memory', 1, ['memory']);
    const l = layoutOf(mem);
    const c1 = createCgroup(l, '/berth/c1');
    const c2 = createCgroup(l, '/berth/c2');
    assert.deepEqual(removeCgroup(c1), []);
    assert.ok(existsSync(join(mem.mountPoint, 'berth')));
    assert.deepEqual(removeCgroup(c2), []);
    assert.ok(!existsSync(join(mem.mountPoint, 'berth')));
  });

  test('the container\'s own dir that cannot be removed is reported; removing twice is not an error', () => {
    const mem = hier('memory', 1, ['memory']);
    const p = createCgroup(layoutOf(mem), '/berth/c1');
    const leaf = `${mem.mountPoint}/berth/c1`;
    writeFileSync(join(leaf, 'busy'), ''); // a real cgroupfs says EBUSY while tasks remain
    assert.deepEqual(removeCgroup(p), [`${leaf}: ENOTEMPTY`]);
    rmSync(join(leaf, 'busy'));
    assert.deepEqual(removeCgroup(p), []);
    assert.deepEqual(removeCgroup(p), [], 'ENOENT: already gone');
  });

  test('a path that is just /berth (single component) is not treated as a shared parent', () => {
    const mem = hier('memory', 1, ['memory']);
    const p = createCgroup(layoutOf(mem), '/berth');
    assert.deepEqual(p.created, [`${mem.mountPoint}/berth`]);
    assert.deepEqual(removeCgroup(p), []);
  });
});

describe('cgroupPids', () => {
  test('reads cgroup.procs of the first hierarchy that has it, skipping ones that do not', () => {
    const a = join(root, 'a');
    const b = join(root, 'b');
    mkdirSync(a);
    mkdirSync(b);
    writeFileSync(join(b, 'cgroup.procs'), '12\n345\n');
    assert.deepEqual(cgroupPids({ path: '/x', dirs: [a, b], created: [] }), [12, 345]);
  });

  test('an empty cgroup.procs means no pids (not [0])', () => {
    writeFileSync(join(root, 'cgroup.procs'), '');
    assert.deepEqual(cgroupPids({ path: '/x', dirs: [root], created: [] }), []);
  });

  test('no readable hierarchy: no pids', () => {
    assert.deepEqual(cgroupPids({ path: '/x', dirs: [join(root, 'gone')], created: [] }), []);
    assert.deepEqual(cgroupPids({ path: '/x', dirs: [], created: [] }), []);
  });
});
