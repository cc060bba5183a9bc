// berth issue 8, item 12: a config whose linux.namespaces lists no "mount" runs in the host's
// mount namespace (runtime-spec: a namespace type not listed is inherited from the runtime), as
// runc runs it. Its mounts (proc, the /dev tmpfs, devpts, …) are made on the host under the
// rootfs; unlike runc, berth-oci removes every one of them on delete and on a failed create,
// never touches the host's "/" (runc makes it rslave) and refuses what it could only do by
// changing a host mount (root.readonly, rootfsPropagation).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { BERTH_OCI, DEFAULT_OCI_ROOT, makeBundle, ok, oci, show, state, uniqueId, type Bundle } from '../fixtures/busybox.ts';
import { cgroupDirsOf } from '../fixtures/host.ts';

const bundles: Bundle[] = [];
const ids: string[] = [];

/** A busybox bundle whose config lists every namespace of runc's default but "mount". */
async function hostMountBundle(args: string[], mutate?: (s: any) => void): Promise<Bundle> {
  const dir = await fs.mkdtemp('/var/tmp/berth-h8g12-');
  const b = await makeBundle({
    dir,
    args,
    mutate: (s) => {
      s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'mount');
      // runc refuses these without a mount namespace ("unable to restrict sys entries …")
      delete s.linux.maskedPaths;
      delete s.linux.readonlyPaths;
      // runc's default is true; without a mount namespace runc ignores it, berth refuses it (below)
      s.root.readonly = false;
      mutate?.(s);
    },
  });
  bundles.push(b);
  return b;
}

function id(tag: string): string {
  const i = uniqueId(`h8g12${tag}-`);
  ids.push(i);
  return i;
}

/** Mount points at or under `dir` in the host's (this process's) mount namespace. */
function mountsUnder(dir: string): string[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map(unescape)
    .filter((p) => p === dir || p.startsWith(dir + '/'));
}

/** The optional fields (shared:N, master:N) of the host's "/" mount: its propagation. */
function rootPropagation(): string {
  const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === '/');
  const f = line!.split(' ');
  return f.slice(6, f.indexOf('-')).join(' ');
}

before(() => {
  assert.equal(process.getuid?.(), 0, 'these tests need root');
  assert.ok(existsSync(BERTH_OCI), `${BERTH_OCI} missing: npm run build`);
});

after(async () => {
  for (const i of ids) await oci(['delete', '--force', i]).catch(() => undefined);
  for (const b of bundles) await b.cleanup();
});

describe('12: no mount namespace in linux.namespaces: the host\'s is inherited', () => {
  test('run: busybox runs in the rootfs with its mounts, exit code kept; nothing is left mounted and the host\'s / is untouched', async () => {
    const host = readlinkSync('/proc/self/ns/mnt');
    const prop = rootPropagation();
    const b = await hostMountBundle(['sh', '-c', 'ls /; cat /proc/self/mountinfo | wc -l; readlink /proc/self/ns/mnt; ls /dev/null /dev/pts/ptmx; exit 3']);
    const cid = id('run');
    const r = await oci(['run', '--bundle', b.dir, cid]);
    assert.equal(r.code, 3, show(r));
    const out = r.stdout.split('\n');
    // `ls /` lists the busybox rootfs, not the host's "/"
    const rootList = readdirSync(b.rootfs).sort();
    const n = rootList.length;
    assert.deepEqual(out.slice(0, n), rootList, `ls / lists the rootfs:\n${r.stdout}`);
    // the mounts under the chroot: proc, /dev (tmpfs), devpts, shm, mqueue, sysfs, the cgroup tmpfs and one bind per hierarchy
    assert.ok(Number(out[n]) >= 7, `the container's mounts are visible in it:\n${r.stdout}`);
    assert.equal(out[n + 1], host, 'the container is in the host\'s mount namespace');
    assert.deepEqual(out.slice(n + 2, n + 4), ['/dev/null', '/dev/pts/ptmx']);
    assert.equal(r.stderr, '', show(r));
    assert.deepEqual(mountsUnder(b.dir), [], 'run removed the container\'s mounts from the host');
    assert.equal(rootPropagation(), prop, 'the host\'s "/" keeps its propagation (runc makes it rslave)');
    assert.equal(existsSync(path.join(DEFAULT_OCI_ROOT, cid)), false);
  });

  test('create/start/exec/delete: the mounts are on the host while it lives, exec enters its root, delete removes every one', async () => {
    const b = await hostMountBundle(['sleep', '1000']);
    writeFileSync(path.join(b.rootfs, 'h8g12-marker'), 'in the rootfs\n');
    const cid = id('life');
    ok(await oci(['create', '--bundle', b.dir, cid]), 'create');
    const during = mountsUnder(b.rootfs);
    for (const m of ['proc', 'dev', 'dev/pts', 'dev/shm', 'dev/mqueue', 'sys', 'sys/fs/cgroup']) {
      assert.ok(during.includes(path.join(b.rootfs, m)), `${m} is mounted on the host under the rootfs: ${during.join(', ')}`);
    }
    // device nodes and links live on the /dev tmpfs, so they go with it
    assert.ok(existsSync(path.join(b.rootfs, 'dev/null')));
    ok(await oci(['start', cid]), 'start');
    const e = ok(await oci(['exec', cid, 'sh', '-c', 'cat /h8g12-marker; ls /proc/1/ns/mnt >/dev/null && echo proc-ok']), 'exec');
    assert.equal(e.stdout, 'in the rootfs\nproc-ok\n', 'exec runs in the container\'s root, not the host\'s');
    assert.equal((await state(cid)).status, 'running');
    ok(await oci(['delete', '--force', cid]), 'delete --force');
    assert.deepEqual(mountsUnder(b.dir), [], 'delete left mounts under the rootfs');
    assert.equal(existsSync(path.join(b.rootfs, 'dev/null')), false, 'the device nodes went with the /dev tmpfs');
    assert.equal(existsSync(path.join(DEFAULT_OCI_ROOT, cid)), false);
    assert.deepEqual(cgroupDirsOf(cid), []);
  });

  test('a create that fails at a mount after good ones leaves no mount, no state, no cgroup', async () => {
    const b = await hostMountBundle(['true'], (s) => {
      s.mounts.push({ destination: '/h8g12-ok', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
      s.mounts.push({ destination: '/h8g12-bad', type: 'h8g12nosuchfs', source: 'none' });
    });
    const cid = id('fail');
    const r = await oci(['create', '--bundle', b.dir, cid]);
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, /h8g12-bad/, 'the error names the mount that failed');
    assert.ok(!/^\s+at /m.test(r.stderr), `stack trace printed:\n${r.stderr}`);
    assert.ok(!/warning/.test(r.stderr), `clean-up warned:\n${r.stderr}`);
    assert.deepEqual(mountsUnder(b.dir), [], 'the mounts made before the failure were removed');
    assert.equal(existsSync(path.join(DEFAULT_OCI_ROOT, cid)), false);
    assert.deepEqual(cgroupDirsOf(cid), []);
  });

  test('mounts survive a killed berth-oci create: delete --force removes them from the log berth-init kept', async () => {
    // a hook that never returns holds create after the mounts were made; SIGKILL berth-oci there
    const b = await hostMountBundle(['true'], (s) => {
      s.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'sleep 1000'] }] };
    });
    const cid = id('crash');
    const r = await oci(['create', '--bundle', b.dir, cid], { timeoutMs: 1500 }).catch((e: Error) => e);
    assert.match(String(r), /timed out/, 'create was killed while it waited for the hook');
    assert.ok(mountsUnder(b.rootfs).length > 0, 'the create was killed after its mounts were made');
    ok(await oci(['delete', '--force', cid]), 'delete --force');
    assert.deepEqual(mountsUnder(b.dir), []);
    assert.equal(existsSync(path.join(DEFAULT_OCI_ROOT, cid)), false);
    assert.deepEqual(cgroupDirsOf(cid), []);
  });

  test('root.readonly and rootfsPropagation are refused (runc would change the host\'s mounts), naming the JSON path', async () => {
    for (const [mutate, jsonPath] of [
      [(s: any) => (s.root.readonly = true), '$.root.readonly'],
      [(s: any) => (s.linux.rootfsPropagation = 'rshared'), '$.linux.rootfsPropagation'],
    ] as const) {
      const b = await hostMountBundle(['true'], mutate);
      const cid = id('ro');
      const r = await oci(['run', '--bundle', b.dir, cid]);
      assert.notEqual(r.code, 0, show(r));
      assert.ok(r.stderr.includes(`${jsonPath}: `), `names ${jsonPath}:\n${r.stderr}`);
      assert.match(r.stderr, /needs a mount namespace of the container's own/);
      assert.ok(!/^\s+at /m.test(r.stderr), `stack trace printed:\n${r.stderr}`);
      assert.deepEqual(mountsUnder(b.dir), []);
      assert.equal(existsSync(path.join(DEFAULT_OCI_ROOT, cid)), false);
    }
  });

  test('without pid and network namespaces too: the host\'s are inherited, the mounts still cleaned up', async () => {
    const b = await hostMountBundle(['sh', '-c', 'readlink /proc/self/ns/pid; readlink /proc/self/ns/net'], (s) => {
      s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'pid' && n.type !== 'network');
    });
    const cid = id('pidnet');
    const r = ok(await oci(['run', '--bundle', b.dir, cid]), 'run');
    assert.equal(r.stdout, `${readlinkSync('/proc/self/ns/pid')}\n${readlinkSync('/proc/self/ns/net')}\n`);
    assert.deepEqual(mountsUnder(b.dir), []);
  });
});
