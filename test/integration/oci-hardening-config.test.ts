// berth issue 8, config hardening: what the real `dist/berth-oci.js` does with configs that
// would have changed the host (sysctl outside the container's namespaces, a symlinked rootfs),
// run the process as root by accident (uid 4294967295), dropped a security setting or wrapped a
// number. Each failing create must exit non-zero with a message naming the JSON path, print no
// stack trace, and leave nothing behind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { BERTH_OCI, DEFAULT_OCI_ROOT, makeBundle, oci, show, uniqueId, type Bundle, type OciResult } from '../fixtures/busybox.ts';
import { cgroupDirsOf, v1Mount } from '../fixtures/host.ts';

const bundles: Bundle[] = [];
const ids: string[] = [];

async function bundle(mutate: (spec: any, dir: string) => void, args?: string[]): Promise<Bundle> {
  const dir = await fs.mkdtemp('/var/tmp/berth-h8b-');
  const b = await makeBundle({ dir, args, mutate: (s) => mutate(s, dir) });
  bundles.push(b);
  return b;
}

function id(prefix: string): string {
  const i = uniqueId(`h8b${prefix}-`);
  ids.push(i);
  return i;
}

/** `create` must fail: non-zero, no stack trace, the message names `jsonPath` and matches `re`; nothing left. */
function refused(r: OciResult, cid: string, jsonPath: string, re: RegExp): void {
  assert.notEqual(r.code, 0, show(r));
  assert.ok(!/^\s+at /m.test(r.stderr), `stack trace printed:\n${r.stderr}`);
  assert.ok(r.stderr.includes(`${jsonPath}: `), `message should name ${jsonPath}:\n${r.stderr}`);
  assert.match(r.stderr, re);
  assert.equal(existsSync(path.join(DEFAULT_OCI_ROOT, cid)), false, 'no state dir left');
  assert.deepEqual(cgroupDirsOf(cid), [], 'no cgroup left');
}

before(() => {
  assert.equal(process.getuid?.(), 0, 'these tests need root');
  assert.ok(existsSync(BERTH_OCI), `${BERTH_OCI} missing: npm run build`);
});

after(async () => {
  for (const i of ids) await oci(['delete', '--force', i]).catch(() => undefined);
  for (const b of bundles) await b.cleanup();
});

describe('5: sysctl only in namespaces the container owns', () => {
  test('kernel.domainname without a uts namespace: create fails, the host\'s domainname is unchanged', async () => {
    const before = readFileSync('/proc/sys/kernel/domainname', 'utf8');
    const b = await bundle((s) => {
      s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'uts');
      delete s.hostname;
      s.linux.sysctl = { 'kernel.domainname': 'h8b-hijacked' };
    });
    const cid = id('5a');
    const r = await oci(['run', '--bundle', b.dir, cid]);
    refused(r, cid, '$.linux.sysctl["kernel.domainname"]', /not allowed in the host's uts namespace/);
    assert.equal(readFileSync('/proc/sys/kernel/domainname', 'utf8'), before);
  });

  test('kernel.core_pattern is host-wide: refused even with every namespace', async () => {
    const before = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
    const b = await bundle((s) => (s.linux.sysctl = { 'kernel.core_pattern': '|/tmp/h8b-pwn' }));
    const cid = id('5b');
    refused(await oci(['run', '--bundle', b.dir, cid]), cid, '$.linux.sysctl["kernel.core_pattern"]', /not in a separate kernel namespace/);
    assert.equal(readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), before);
  });

  test('net.* in a network namespace joined by path that is the host\'s own is refused; kernel.msgmax without ipc too', async () => {
    const b = await bundle((s) => {
      s.linux.namespaces = s.linux.namespaces.map((n: any) => (n.type === 'network' ? { type: 'network', path: `/proc/${process.pid}/ns/net` } : n));
      s.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
    });
    const cid = id('5c');
    refused(await oci(['run', '--bundle', b.dir, cid]), cid, '$.linux.sysctl["net.ipv4.ip_forward"]', /host's network namespace/);
    const b2 = await bundle((s) => {
      s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'ipc');
      s.linux.sysctl = { 'kernel/msgmax': '4096' };
    });
    const cid2 = id('5d');
    refused(await oci(['run', '--bundle', b2.dir, cid2]), cid2, '$.linux.sysctl["kernel/msgmax"]', /"kernel.msgmax" is not allowed in the host's ipc namespace/);
  });

  test('kernel.domainname with a new uts namespace is set in the container', async () => {
    const b = await bundle((s) => (s.linux.sysctl = { 'kernel.domainname': 'h8b.example' }), ['cat', '/proc/sys/kernel/domainname']);
    const r = await oci(['run', '--bundle', b.dir, id('5e')]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout.trim(), 'h8b.example');
  });
});

describe('8: ids outside 0-2147483647', () => {
  test('uid 4294967295 is refused (it ran the process as root)', async () => {
    const b = await bundle((s) => (s.process.user = { uid: 4294967295, gid: 0 }), ['id', '-u']);
    const cid = id('8a');
    refused(await oci(['run', '--bundle', b.dir, cid]), cid, '$.process.user.uid', /uids and gids must be in range 0-2147483647, got 4294967295/);
  });

  test('exec --user 4294967295 is refused the same way', async () => {
    const b = await bundle(() => undefined, ['sleep', '30']);
    const cid = id('8b');
    assert.equal((await oci(['run', '-d', '--bundle', b.dir, cid])).code, 0);
    const r = await oci(['exec', '--user', '4294967295', cid, 'id', '-u']);
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, /\$\.user\.uid: uids and gids must be in range 0-2147483647/);
    assert.ok(!/^\s+at /m.test(r.stderr), r.stderr);
    assert.equal((await oci(['delete', '--force', cid])).code, 0);
  });
});

describe('10: security settings berth cannot apply are errors', () => {
  for (const [what, mutate, jsonPath, re] of [
    ['process.apparmorProfile', (s: any) => (s.process.apparmorProfile = 'docker-default'), '$.process.apparmorProfile', /AppArmor/],
    ['process.selinuxLabel', (s: any) => (s.process.selinuxLabel = 'system_u:system_r:container_t:s0'), '$.process.selinuxLabel', /selinux/],
    ['linux.mountLabel', (s: any) => (s.linux.mountLabel = 'system_u:object_r:container_file_t:s0'), '$.linux.mountLabel', /selinux/],
    ['linux.intelRdt', (s: any) => (s.linux.intelRdt = { closID: 'h8b' }), '$.linux.intelRdt.closID', /Intel RDT/],
    ['seccomp listenerPath', (s: any) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/h8b.sock' }), '$.linux.seccomp.listenerPath', /notification/],
  ] as const) {
    test(`${what}: create fails naming it`, async () => {
      const b = await bundle(mutate);
      const cid = id('10');
      refused(await oci(['run', '--bundle', b.dir, cid]), cid, jsonPath, re);
    });
  }

  test('exec --apparmor is refused, not dropped', async () => {
    const b = await bundle(() => undefined, ['sleep', '30']);
    const cid = id('10e');
    assert.equal((await oci(['run', '-d', '--bundle', b.dir, cid])).code, 0);
    const r = await oci(['exec', '--apparmor', 'docker-default', cid, 'true']);
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, /\$\.apparmorProfile: AppArmor/);
    assert.equal((await oci(['delete', '--force', cid])).code, 0);
  });
});

describe('13: 64-bit numbers are exact', () => {
  for (const [lit, re] of [
    ['1e20', /-1\.\.9223372036854775807 \(int64\)|got 100000000000000000000/],
    ['18446744073709551616', /got 18446744073709551616/],
    ['9223372036854775808', /got 9223372036854775808/],
  ] as const) {
    test(`memory.limit ${lit} is refused with its JSON path (it was wrapped)`, async () => {
      const b = await bundle(() => undefined);
      const cfg = path.join(b.dir, 'config.json');
      const text = readFileSync(cfg, 'utf8').replace('"resources": {', `"resources": {\n "memory": { "limit": ${lit} },`);
      await fs.writeFile(cfg, text);
      const cid = id('13');
      refused(await oci(['run', '--bundle', b.dir, cid]), cid, '$.linux.resources.memory.limit', re);
    });
  }

  test('memory.limit 9223372036854775807 (int64 max) is accepted and written exactly', async () => {
    const b = await bundle(() => undefined, ['sleep', '30']);
    const cfg = path.join(b.dir, 'config.json');
    await fs.writeFile(cfg, readFileSync(cfg, 'utf8').replace('"resources": {', '"resources": {\n "memory": { "limit": 9223372036854775807 },'));
    const cid = id('13b');
    const r = await oci(['run', '-d', '--bundle', b.dir, cid]);
    assert.equal(r.code, 0, show(r));
    const mem = v1Mount('memory');
    if (mem) {
      // v1 rounds down to whole pages: the largest page-aligned int64, "unlimited"
      const dir = cgroupDirsOf(cid).find((d) => d.startsWith(mem));
      assert.ok(dir, 'memory cgroup');
      assert.equal(readFileSync(path.join(dir, 'memory.limit_in_bytes'), 'utf8').trim(), '9223372036854771712');
    }
    // the state keeps the exact value (a later update or exec reads it back)
    const st = readFileSync(path.join(DEFAULT_OCI_ROOT, cid, 'state.json'), 'utf8');
    assert.match(st, /"limit":9223372036854775807/);
    assert.equal((await oci(['delete', '--force', cid])).code, 0);
  });
});

describe('14: a symlinked root.path', () => {
  test('is refused as runc refuses it; nothing is created where the link points', async () => {
    const b = await bundle((s) => (s.root.path = 'link'));
    const target = await fs.mkdtemp('/var/tmp/berth-h8b-target-');
    try {
      await fs.symlink(target, path.join(b.dir, 'link'));
      const cid = id('14');
      refused(await oci(['run', '--bundle', b.dir, cid]), cid, '$.root.path', /invalid rootfs: not an absolute path, or a symlink/);
      assert.deepEqual(readdirSync(target), [], 'nothing created in the link\'s target');
    } finally {
      await fs.rm(target, { recursive: true, force: true });
    }
  });
});

describe('19: malformed configs through the CLI: a plain error with the JSON path, never a stack trace', () => {
  const userns = (s: any) => {
    s.linux.namespaces.push({ type: 'user' });
    s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 1000 }, { containerID: 10, hostID: 200000, size: 10 }];
    s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  };
  for (const [jsonPath, mutate] of [
    ['$.process.args[1]', (s: any) => (s.process.args = ['/bin/echo', 'a\u0000b'])],
    ['$.process.cwd', (s: any) => (s.process.cwd = '/tmp\u0000x')],
    ['$.process.env[0]', (s: any) => (s.process.env[0] = 'PATH=/bin\u0000')],
    ['$.hostname', (s: any) => (s.hostname = 'h\u0000')],
    ['$.mounts[0].destination', (s: any) => (s.mounts[0].destination = '/pro\u0000c')],
    ['$.linux.cgroupsPath', (s: any) => (s.linux.cgroupsPath = '/berth/\u0000')],
    ['$.linux.cgroupsPath', (s: any) => (s.linux.cgroupsPath = '/berth/../../h8b')],
    ['$.linux.cgroupsPath', (s: any) => (s.linux.cgroupsPath = 'user.slice:h8b:x')],
    ['$.linux.uidMappings[1]', userns],
    ['$.process.rlimits[0].hard', (s: any) => (s.process.rlimits[0].hard = 1e30)],
  ] as const) {
    test(`${jsonPath}: ${JSON.stringify(mutate.toString().slice(0, 60))}`, async () => {
      const b = await bundle(mutate);
      const cid = id('19');
      refused(await oci(['create', '--bundle', b.dir, cid]), cid, jsonPath, /./);
    });
  }
});
