import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BERTH_OCI, busyboxRootfs, makeBundle, uniqueId } from '../fixtures/busybox.ts';

test('busyboxRootfs builds a usable busybox rootfs', async () => {
  const dir = await fs.mkdtemp(path.join('/var/tmp', 'berth-test-rootfs-'));
  try {
    await busyboxRootfs(dir);
    const bb = await fs.stat(path.join(dir, 'bin/busybox'));
    assert.ok(bb.isFile());
    assert.ok((bb.mode & 0o111) !== 0, 'bin/busybox is executable');
    assert.equal(execFileSync(path.join(dir, 'bin/busybox'), ['echo', 'hi'], { encoding: 'utf8' }), 'hi\n');

    assert.equal(await fs.readlink(path.join(dir, 'bin/sh')), '/bin/busybox');
    assert.equal(await fs.readlink(path.join(dir, 'usr/bin/env')), '/bin/busybox');

    const passwd = await fs.readFile(path.join(dir, 'etc/passwd'), 'utf8');
    assert.match(passwd, /^root:x:0:0:root:\/root:\/bin\/sh$/m);
    assert.match(passwd, /^berth:x:1000:1000:/m);
    assert.match(await fs.readFile(path.join(dir, 'etc/group'), 'utf8'), /^tty:x:5:$/m);

    const tmp = await fs.stat(path.join(dir, 'tmp'));
    assert.equal(tmp.mode & 0o7777, 0o1777);
    for (const d of ['proc', 'sys', 'dev', 'etc', 'root', 'home/berth', 'var', 'run']) {
      assert.ok((await fs.stat(path.join(dir, d))).isDirectory(), `${d} is a directory`);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('busyboxRootfs is fast the second time (cache)', async () => {
  const a = await fs.mkdtemp(path.join('/var/tmp', 'berth-test-rootfs-'));
  const b = await fs.mkdtemp(path.join('/var/tmp', 'berth-test-rootfs-'));
  try {
    await busyboxRootfs(a);
    assert.ok(existsSync('/var/tmp/berth-test-cache/busybox-rootfs'), 'cache dir exists');
    const t0 = performance.now();
    await busyboxRootfs(b);
    const ms = performance.now() - t0;
    assert.ok(ms < 2000, `second busyboxRootfs took ${ms.toFixed(0)} ms`);
    assert.ok(existsSync(path.join(b, 'bin/busybox')));
  } finally {
    await fs.rm(a, { recursive: true, force: true });
    await fs.rm(b, { recursive: true, force: true });
  }
});

test('makeBundle writes runc-spec default config with the requested args', async () => {
  const bundle = await makeBundle({
    args: ['/bin/echo', 'hello'],
    mutate: (spec) => {
      spec.process.env.push('FOO=bar');
    },
  });
  try {
    assert.ok(bundle.dir.startsWith('/var/tmp/berth-test-'));
    assert.equal(bundle.rootfs, path.join(bundle.dir, 'rootfs'));
    const config = JSON.parse(await fs.readFile(path.join(bundle.dir, 'config.json'), 'utf8'));
    assert.deepEqual(config.process.args, ['/bin/echo', 'hello']);
    assert.deepEqual(config, bundle.config);
    assert.equal(config.ociVersion, '1.0.2-dev');
    assert.equal(config.process.terminal, false);
    assert.equal(config.hostname, 'berth-test');
    assert.equal(config.root.path, 'rootfs');
    assert.equal(config.root.readonly, true);
    assert.ok(config.process.env.includes('FOO=bar'));
    assert.deepEqual(
      config.linux.namespaces.map((n: { type: string }) => n.type),
      ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup'],
    );
    assert.ok(existsSync(path.join(bundle.rootfs, 'bin/busybox')));
  } finally {
    await bundle.cleanup();
  }
  assert.ok(!existsSync(bundle.dir), 'cleanup removed the bundle');

  const dflt = await makeBundle({ dir: path.join(os.tmpdir(), uniqueId('berth-test-dir-')) });
  try {
    assert.deepEqual(dflt.config.process.args, ['/bin/true']);
  } finally {
    await dflt.cleanup();
  }
});

test('uniqueId is unique per call and BERTH_OCI points at dist/berth-oci.js', () => {
  const ids = new Set(Array.from({ length: 1000 }, () => uniqueId()));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^t[\w.-]+$/);
  assert.ok(uniqueId('abc').startsWith('abc'));
  assert.ok(path.isAbsolute(BERTH_OCI));
  assert.ok(BERTH_OCI.endsWith(path.join('dist', 'berth-oci.js')));
});
