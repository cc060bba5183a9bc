// Pulls at the same time into one store, as separate `berth pull` processes (the built CLI, whose
// layers are unpacked in worker threads while they download): the same image twice, and two
// images sharing their base layers. Each must end complete, every layer unpacked exactly once,
// with nothing left in the store's ingest/ or tmp/ dirs. Against Debian's docker-registry.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { berth, berthArgv, stopDaemons } from '../fixtures/berth-cli.ts';
import { show } from '../fixtures/busybox.ts';
import { buildImage, pushImage } from '../fixtures/images.ts';
import { LocalRegistry } from '../fixtures/registry.ts';
import { tarOf } from '../fixtures/tar.ts';
import { chainIds } from '../../src/image/snapshot/chain.ts';
import { digestHex } from '../../src/image/store/digest.ts';
import { ContentStore } from '../../src/image/store/content.ts';

const reg = new LocalRegistry();
let T = '';

/** A layer of `files` files of `size` random bytes each, under `dir`/. */
async function layer(dir: string, files: number, size: number): Promise<Buffer> {
  return tarOf(async (w) => {
    await w.add({ path: `${dir}/`, type: 'dir', mode: 0o755 });
    for (let i = 0; i < files; i++) await w.add({ path: `${dir}/f${i}`, type: 'file', mode: 0o644 }, randomBytes(size));
  });
}

const snapshotIds = (root: string): string[] => readdirSync(join(root, 'snapshot', 'snapshots')).sort();
const leftovers = (root: string): string[] => [
  ...readdirSync(join(root, 'content', 'ingest')).map((n) => `ingest/${n}`),
  ...readdirSync(join(root, 'snapshot', 'tmp')).map((n) => `tmp/${n}`),
];

describe('concurrent pulls into one store', { timeout: 240_000 }, () => {
  let base: Buffer[] = [];
  let imageA = '';
  let imageB = '';
  let chainsA: string[] = [];
  let chainsB: string[] = [];

  before(async () => {
    T = mkdtempSync(join(tmpdir(), 'berth-concurrent-'));
    await reg.start();
    // big enough (≈12 MB per layer, incompressible) that the pulls overlap for a while
    base = [await layer('base1', 300, 40_000), await layer('base2', 300, 40_000)];
    const a = buildImage({ tars: [...base, await layer('only-a', 50, 20_000)] });
    const b = buildImage({ tars: [...base, await layer('only-b', 50, 20_000)] });
    await pushImage(reg, 'conc/a', '1', a);
    await pushImage(reg, 'conc/b', '1', b);
    imageA = `${reg.domain}/conc/a:1`;
    imageB = `${reg.domain}/conc/b:1`;
    chainsA = chainIds(a.diffIds).map((d) => digestHex(d));
    chainsB = chainIds(b.diffIds).map((d) => digestHex(d));
  });

  after(async () => {
    await stopDaemons(); // before the roots go: each berthd holds its root
    await reg.stop();
    if (T) rmSync(T, { recursive: true, force: true });
  });

  it('the same image pulled twice at once: both succeed, each layer unpacked once', async () => {
    const root = join(T, 'same');
    const [r1, r2] = await Promise.all([berth(root, ['pull', imageA], { timeoutMs: 120_000 }), berth(root, ['pull', imageA], { timeoutMs: 120_000 })]);
    assert.equal(r1.code, 0, show(r1));
    assert.equal(r2.code, 0, show(r2));
    assert.deepEqual(snapshotIds(root), [...chainsA].sort());
    assert.deepEqual(leftovers(root), []);
    const refs = JSON.parse(readFileSync(join(root, 'refs.json'), 'utf8')) as { names: Record<string, string> };
    assert.ok(refs.names[imageA], `refs.json names ${imageA}`);
  });

  it('two images sharing their base layers pulled at once: the shared layers unpacked once', async () => {
    const root = join(T, 'shared');
    const [ra, rb] = await Promise.all([berth(root, ['pull', imageA], { timeoutMs: 120_000 }), berth(root, ['pull', imageB], { timeoutMs: 120_000 })]);
    assert.equal(ra.code, 0, show(ra));
    assert.equal(rb.code, 0, show(rb));
    // chains 0 and 1 are the same in both images: 4 snapshots in all, not 6
    assert.equal(chainsA[0], chainsB[0]);
    assert.equal(chainsA[1], chainsB[1]);
    assert.deepEqual(snapshotIds(root), [...new Set([...chainsA, ...chainsB])].sort());
    assert.deepEqual(leftovers(root), []);
    // both images are usable: a bundle of each lists its own layer's files
    for (const [image, dir] of [[imageA, 'only-a'], [imageB, 'only-b']] as const) {
      const bundle = join(T, `bundle-${dir}`);
      const c = await berth(root, ['bundle', 'create', image, bundle]);
      assert.equal(c.code, 0, show(c));
      try {
        assert.equal(readdirSync(join(bundle, 'rootfs', dir)).length, 50);
        assert.equal(readdirSync(join(bundle, 'rootfs', 'base1')).length, 300);
      } finally {
        const rm = await berth(root, ['bundle', 'rm', bundle]);
        assert.equal(rm.code, 0, show(rm));
      }
    }
  });
  it('a pull killed mid-way: no name, nothing half-unpacked used; the next pull completes it; prune removes the leftovers', async () => {
    const root = join(T, 'crash');
    const [cmd, ...pre] = berthArgv();
    const child = spawn(cmd!, [...pre, '--root', root, 'pull', '-q', imageA], { stdio: 'ignore' });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    // kill it once a layer is being unpacked (a tmp dir exists) and before the image is complete
    const deadline = Date.now() + 60_000;
    const tmpDir = join(root, 'snapshot', 'tmp');
    while (!(existsSync(tmpDir) && readdirSync(tmpDir).length > 0)) {
      assert.ok(Date.now() < deadline, 'the pull never started unpacking');
      assert.equal(child.exitCode, null, 'the pull ended before it could be killed');
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    await exited;
    const refsFile = join(root, 'refs.json');
    const named = existsSync(refsFile) ? (JSON.parse(readFileSync(refsFile, 'utf8')) as { names?: Record<string, string> }).names ?? {} : {};
    assert.equal(named[imageA], undefined, 'an interrupted pull tags nothing');
    assert.ok(readdirSync(tmpDir).length > 0, 'the killed unpack left its tmp dir (what prune is for)');

    const again = await berth(root, ['pull', imageA], { timeoutMs: 120_000 });
    assert.equal(again.code, 0, show(again));
    assert.deepEqual(snapshotIds(root), [...chainsA].sort());
    const prune = await berth(root, ['image', 'prune', '-f']);
    assert.equal(prune.code, 0, show(prune));
    assert.deepEqual(leftovers(root), [], 'prune removed what the killed pull left');
    // the image is whole: a bundle of it has every file of every layer
    const bundle = join(T, 'bundle-crash');
    const c = await berth(root, ['bundle', 'create', imageA, bundle]);
    assert.equal(c.code, 0, show(c));
    try {
      assert.equal(readdirSync(join(bundle, 'rootfs', 'base1')).length, 300);
      assert.equal(readdirSync(join(bundle, 'rootfs', 'base2')).length, 300);
      assert.equal(readdirSync(join(bundle, 'rootfs', 'only-a')).length, 50);
    } finally {
      const rm = await berth(root, ['bundle', 'rm', bundle]);
      assert.equal(rm.code, 0, show(rm));
    }
  });
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`17: a pull ${sig}ed mid-unpack exits ${code} with no tmp dir and no lease left, right after the exit`, async () => {
      const root = join(T, `sig-${sig}`);
      const [cmd, ...pre] = berthArgv();
      const child = spawn(cmd!, [...pre, '--root', root, 'pull', imageA], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      const tmpDir = join(root, 'snapshot', 'tmp');
      const deadline = Date.now() + 60_000;
      while (!(existsSync(tmpDir) && readdirSync(tmpDir).length > 0)) {
        assert.ok(Date.now() < deadline, 'the pull never started unpacking');
        assert.equal(child.exitCode, null, `the pull ended before it could be interrupted: ${stderr}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      child.kill(sig);
      const t0 = Date.now();
      assert.equal(await exited, code, stderr);
      assert.ok(Date.now() - t0 < 10_000, 'stopped at once');
      assert.match(stderr, new RegExp(`^berth: pull ${imageA.replace(/[.]/g, '\\.')}: interrupted by ${sig}$`, 'm'));
      assert.deepEqual(readdirSync(tmpDir), [], 'no unpack dir left');
      assert.deepEqual(readdirSync(join(root, 'content', 'leases')), [], 'no lease left');
      assert.deepEqual(readdirSync(join(root, 'snapshot', 'locks')).filter((n) => !n.endsWith('.lock')), []);
      const refsFile = join(root, 'refs.json');
      const named = existsSync(refsFile) ? (JSON.parse(readFileSync(refsFile, 'utf8')) as { names?: Record<string, string> }).names ?? {} : {};
      assert.equal(named[imageA], undefined, 'an interrupted pull tags nothing');
      // the next pull completes it
      const again = await berth(root, ['pull', '-q', imageA], { timeoutMs: 120_000 });
      assert.equal(again.code, 0, show(again));
      assert.deepEqual(snapshotIds(root), [...chainsA].sort());
      assert.deepEqual(leftovers(root), []);
    });
  }

  it('17: BERTH_REGISTRY_STALL_TIMEOUT: a registry that never answers fails the pull after the retries, each stall said on stderr', async () => {
    const held: import('node:http').ServerResponse[] = [];
    const server = createServer((_req, res) => void held.push(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const domain = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const t0 = Date.now();
      const r = await berth(join(T, 'stall'), ['pull', `${domain}/stall/me:1`], { env: { BERTH_REGISTRY_STALL_TIMEOUT: '300ms' }, timeoutMs: 60_000 });
      assert.equal(r.code, 1, show(r));
      const what = `manifest stall/me:1 from registry ${domain}: stalled: no data from the registry for 300ms`;
      const retries = [2, 3, 4, 5].map((n) => `berth: ${what}; retrying (attempt ${n} of 5)`);
      assert.equal(r.stderr, `${retries.join('\n')}\nberth: ${what} (gave up after 5 attempts)\n`);
      assert.equal(held.length, 5);
      assert.ok(Date.now() - t0 < 30_000);
      const bad = await berth(join(T, 'stall'), ['pull', `${domain}/stall/me:1`], { env: { BERTH_REGISTRY_STALL_TIMEOUT: 'soon' } });
      assert.equal(bad.code, 1, show(bad));
      assert.match(bad.stderr, /^berth: BERTH_REGISTRY_STALL_TIMEOUT: want a duration such as "30s", "500ms" or a number of seconds, got "soon"$/m);
    } finally {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
  it('18: image prune -a reports what it freed (blobs, unpacked layers, what a killed pull left); a dead pull\'s download goes at once, a live one\'s stays', async () => {
    const root = join(T, 'prune18');
    // an image of its own (3 MB, unshared), pulled whole after the killed pull
    await pushImage(reg, 'conc/d18', '1', buildImage({ tars: [await layer('only-d', 60, 50_000)] }));
    const imageD = `${reg.domain}/conc/d18:1`;
    // a pull of imageA SIGKILLed mid-download/unpack: partial downloads of a dead process, half-unpacked layers
    const [cmd, ...pre] = berthArgv();
    const child = spawn(cmd!, [...pre, '--root', root, 'pull', '-q', imageA], { stdio: 'ignore' });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const tmpDir = join(root, 'snapshot', 'tmp');
    const ingestDir = join(root, 'content', 'ingest');
    const listed = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);
    const ingestBytes = (): number => listed(ingestDir).reduce((n, d) => n + (existsSync(join(ingestDir, d, 'data')) ? statSync(join(ingestDir, d, 'data')).size : 0), 0);
    const deadline = Date.now() + 60_000;
    while (!(listed(tmpDir).length > 0 && ingestBytes() > 2 << 20)) {
      assert.ok(Date.now() < deadline, 'the pull never got going');
      assert.equal(child.exitCode, null, 'the pull ended before it could be killed');
      await new Promise((r) => setTimeout(r, 2));
    }
    child.kill('SIGKILL');
    await exited;
    const dead = readdirSync(ingestDir);
    assert.ok(dead.length > 0);
    const got = await berth(root, ['pull', '-q', imageD], { timeoutMs: 120_000 });
    assert.equal(got.code, 0, show(got));
    // a download in progress in a live process (this one)
    const store = await ContentStore.open(join(root, 'content'));
    const live = await store.writer('test-18-live', { expectedSize: 4 << 20 });
    await live.write(randomBytes(1 << 20));
    try {
      const du = (): number => Number(execFileSync('du', ['-s', '--bytes', root]).toString().split('\t')[0]);
      const before = du();
      const prune = await berth(root, ['image', 'prune', '-a', '-f']);
      assert.equal(prune.code, 0, show(prune));
      const freed = before - du();
      const m = /Total reclaimed space: ([\d.]+)(B|kB|MB|GB)\n$/.exec(prune.stdout);
      assert.ok(m, prune.stdout);
      const reported = Number(m[1]) * 1000 ** ['B', 'kB', 'MB', 'GB'].indexOf(m[2]!);
      // du counts directories and metadata files too; docker's figure (and berth's) counts file contents
      assert.ok(Math.abs(reported - freed) <= 128 * 1024 + freed * 0.01, `prune reported ${m[0]!.trim()} (${reported} B); du says ${freed} B were freed`);
      assert.ok(freed > 6 << 20, `prune freed ${freed} bytes`);
      const left = readdirSync(ingestDir);
      for (const d of dead) assert.ok(!left.includes(d) || (await store.status('test-18-live'))?.ref === 'test-18-live', 'the killed pull\'s downloads are gone');
      assert.deepEqual((await store.listStatuses()).map((st) => st.ref), ['test-18-live'], 'the live download is kept');
      assert.deepEqual(readdirSync(tmpDir), []);
      assert.deepEqual(snapshotIds(root), []);
    } finally {
      await live.abort();
    }
  });
});
