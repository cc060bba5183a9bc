// Pulls at the same time into one store, as separate `berth pull` processes (the built CLI, whose
// layers are unpacked in worker threads while they download): the same image twice, and two
// images sharing their base layers. Each must end complete, every layer unpacked exactly once,
// with nothing left in the store's ingest/ or tmp/ dirs. Against Debian's docker-registry.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { berth } from '../fixtures/berth-cli.ts';
import { show } from '../fixtures/busybox.ts';
import { buildImage, pushImage } from '../fixtures/images.ts';
import { LocalRegistry } from '../fixtures/registry.ts';
import { tarOf } from '../fixtures/tar.ts';
import { chainIds } from '../../src/image/snapshot/chain.ts';
import { digestHex } from '../../src/image/store/digest.ts';

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
});
