// Overlay snapshots (src/image/snapshot): layers unpacked once per chain ID, DiffID verified,
// shared between images, locked against concurrent unpacks, garbage-collected. Needs root.
import { DecompressError } from '../../src/image/compression/index.ts';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { tarEntries } from '../fixtures/tar.ts';
import type { TarWriteEntry } from '../../src/image/tar/index.ts';
import { ContentStore, ingest } from '../../src/image/store/content.ts';
import { digestOf, type Digest } from '../../src/image/store/digest.ts';
import { MEDIA_TYPE_OCI_LAYER, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_LAYER_ZSTD } from '../../src/image/registry/media.ts';
import { chainIds, DiffIdMismatchError, SnapshotStore, UnsupportedLayerError } from '../../src/image/snapshot/index.ts';
import type { LayerRef } from '../../src/image/snapshot/index.ts';

const temps: string[] = [];
function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `berth-snapshot-${tag}-`));
  temps.push(d);
  return d;
}
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function tarOf(entries: Array<[TarWriteEntry, Buffer?]>): Promise<Buffer> {
  return tarEntries(entries);
}

async function put(content: ContentStore, blob: Buffer): Promise<Digest> {
  const d = digestOf(blob);
  await ingest(content, `test-${d}`, blob, { size: blob.length, digest: d });
  return d;
}

const T = 1_600_000_000;
interface Fixture {
  content: ContentStore;
  tars: Buffer[];
  layers: LayerRef[];
}

async function fixture(): Promise<Fixture> {
  const content = await ContentStore.open(tempDir('content'));
  const tars = [
    await tarOf([
      [{ path: 'etc/', type: 'dir', mode: 0o755, mtime: T }],
      [{ path: 'etc/os-release', type: 'file', mode: 0o644, mtime: T }, Buffer.from('NAME=berth\n')],
      [{ path: 'etc/old.conf', type: 'file', mode: 0o644, mtime: T }, Buffer.from('old\n')],
    ]),
    await tarOf([
      [{ path: 'bin/', type: 'dir', mode: 0o755, mtime: T }],
      [{ path: 'bin/tool', type: 'file', mode: 0o755, mtime: T }, Buffer.from('#!/bin/sh\necho tool\n')],
    ]),
    await tarOf([
      [{ path: 'etc/', type: 'dir', mode: 0o755, mtime: T }],
      [{ path: 'etc/.wh.old.conf', type: 'file', mode: 0o644, mtime: T }, Buffer.alloc(0)],
      [{ path: 'app.txt', type: 'file', mode: 0o600, uid: 1000, gid: 1000, mtime: T }, Buffer.from('app\n')],
    ]),
  ];
  const blobs = [gzipSync(tars[0]!), tars[1]!, gzipSync(tars[2]!)];
  const types = [MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_LAYER, MEDIA_TYPE_OCI_LAYER_GZIP];
  const layers: LayerRef[] = [];
  for (let i = 0; i < 3; i++) {
    layers.push({ digest: await put(content, blobs[i]!), mediaType: types[i]!, diffId: digestOf(tars[i]!) });
  }
  return { content, tars, layers };
}

function snapshotDirs(root: string): string[] {
  return readdirSync(join(root, 'snapshots')).sort();
}

test('chain IDs follow the OCI image spec', () => {
  const a = digestOf('a');
  const b = digestOf('b');
  const ids = chainIds([a, b]);
  assert.equal(ids[0], a);
  assert.equal(ids[1], digestOf(`${a} ${b}`));
});

test('prepare unpacks each layer once, shares layers between images, verifies content', async () => {
  const { content, layers } = await fixture();
  const root = tempDir('store');
  const store = await SnapshotStore.open(root);

  const dirs = await store.prepare(layers, content);
  assert.equal(dirs.length, 3);
  assert.equal(store.unpacked, 3);
  const ids = chainIds(layers.map((l) => l.diffId));
  assert.deepEqual(dirs, ids.map((id) => join(root, 'snapshots', id.slice('sha256:'.length), 'fs')));
  assert.equal(readFileSync(join(dirs[0]!, 'etc/os-release'), 'utf8'), 'NAME=berth\n');
  assert.equal(readFileSync(join(dirs[0]!, 'etc/old.conf'), 'utf8'), 'old\n');
  assert.equal(readFileSync(join(dirs[1]!, 'bin/tool'), 'utf8'), '#!/bin/sh\necho tool\n');
  assert.equal(statSync(join(dirs[1]!, 'bin/tool')).mode & 0o7777, 0o755);
  const wh = lstatSync(join(dirs[2]!, 'etc/old.conf'));
  assert.ok(wh.isCharacterDevice(), 'whiteout is a char device');
  assert.equal(wh.rdev, 0);
  const app = statSync(join(dirs[2]!, 'app.txt'));
  assert.equal(app.uid, 1000);
  assert.equal(readFileSync(join(dirs[2]!, 'app.txt'), 'utf8'), 'app\n');
  assert.equal(readdirSync(join(root, 'tmp')).length, 0);

  // Again: nothing unpacked, same dirs, untouched.
  const before = dirs.map((d) => statSync(join(d, '..', 'meta.json')).mtimeMs);
  const again = await store.prepare(layers, content);
  assert.deepEqual(again, dirs);
  assert.equal(store.unpacked, 3);
  assert.deepEqual(dirs.map((d) => statSync(join(d, '..', 'meta.json')).mtimeMs), before);

  // A second image sharing the first two layers reuses their dirs.
  const extraTar = await tarOf([[{ path: 'other', type: 'file', mode: 0o644, mtime: T }, Buffer.from('other\n')]]);
  const extra: LayerRef = { digest: await put(content, extraTar), mediaType: MEDIA_TYPE_OCI_LAYER, diffId: digestOf(extraTar) };
  const dirs2 = await store.prepare([layers[0]!, layers[1]!, extra], content);
  assert.equal(store.unpacked, 4);
  assert.deepEqual(dirs2.slice(0, 2), dirs.slice(0, 2));
  assert.notEqual(dirs2[2], dirs[2]);
  assert.equal(readFileSync(join(dirs2[2]!, 'other'), 'utf8'), 'other\n');
  assert.equal(snapshotDirs(root).length, 4);

  const info = await store.info(ids[1]!);
  assert.equal(info.parent, ids[0]);
  assert.equal(info.diffId, layers[1]!.diffId);

  // Same layer under a different parent is a different snapshot.
  const dirs3 = await store.prepare([layers[1]!], content);
  assert.equal(store.unpacked, 5);
  assert.notEqual(dirs3[0], dirs[1]);
});

test('a wrong DiffID is an error and leaves no snapshot', async () => {
  const { content, layers, tars } = await fixture();
  const root = tempDir('bad');
  const store = await SnapshotStore.open(root);
  for (const i of [0, 1]) { // gzip and plain
    const bad: LayerRef = { ...layers[i]!, diffId: digestOf(Buffer.concat([tars[i]!, Buffer.from('x')])) };
    await assert.rejects(store.prepare([bad], content), (e: unknown) => {
      assert.ok(e instanceof DiffIdMismatchError, String(e));
      assert.match((e as Error).message, /DiffID mismatch/);
      return true;
    });
  }
  assert.deepEqual(snapshotDirs(root), []);
  assert.deepEqual(readdirSync(join(root, 'tmp')), []);
  assert.equal(store.unpacked, 0);
});

test('a corrupt zstd layer is rejected clearly; an unknown layer type is refused', async () => {
  const { content } = await fixture();
  const root = tempDir('zstd');
  const store = await SnapshotStore.open(root);
  // A zstd frame header (magic) followed by junk is enough: berth sniffs the compression.
  const blob = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(32, 1)]);
  const layer: LayerRef = { digest: await put(content, blob), mediaType: MEDIA_TYPE_OCI_LAYER_ZSTD, diffId: digestOf('x') };
  await assert.rejects(store.prepare([layer], content), (e: unknown) => e instanceof DecompressError && new RegExp(`^layer ${layer.digest}: zstd: `).test((e as Error).message));
  await assert.rejects(store.prepare([{ ...layer, mediaType: 'application/json' }], content), UnsupportedLayerError);
  assert.deepEqual(snapshotDirs(root), []);
  assert.deepEqual(readdirSync(join(root, 'tmp')), []);
});

test('a hostile layer is refused with the layer named, nothing kept', async () => {
  const { content } = await fixture();
  const root = tempDir('hostile');
  const store = await SnapshotStore.open(root);
  const tar = await tarOf([[{ path: '../escape', type: 'file', mode: 0o644, mtime: T }, Buffer.from('x')]]);
  const layer: LayerRef = { digest: await put(content, gzipSync(tar)), mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, diffId: digestOf(tar) };
  await assert.rejects(store.prepare([layer], content), (e: unknown) => {
    assert.match((e as Error).message, new RegExp(`^layer ${layer.digest}: tar entry "\\.\\./escape": path escapes the layer root$`));
    return true;
  });
  assert.deepEqual(snapshotDirs(root), []);
  assert.deepEqual(readdirSync(join(root, 'tmp')), []);
});

test('two concurrent prepares of the same layers unpack each once', async () => {
  const { content, layers } = await fixture();
  const root = tempDir('concurrent');
  const a = await SnapshotStore.open(root);
  const b = await SnapshotStore.open(root);
  const [da, db] = await Promise.all([a.prepare(layers, content), b.prepare(layers, content)]);
  assert.deepEqual(da, db);
  assert.equal(a.unpacked + b.unpacked, 3);
  assert.equal(snapshotDirs(root).length, 3);
  assert.deepEqual(readdirSync(join(root, 'tmp')), []);
  assert.deepEqual(readdirSync(join(root, 'locks')), []);
});

test('gc removes exactly the snapshots no owner references; cleanup removes stale tmp dirs', async () => {
  const { content, layers } = await fixture();
  const root = tempDir('gc');
  const store = await SnapshotStore.open(root);
  const extraTar = await tarOf([[{ path: 'x', type: 'file', mode: 0o644, mtime: T }, Buffer.from('x')]]);
  const extra: LayerRef = { digest: await put(content, extraTar), mediaType: MEDIA_TYPE_OCI_LAYER, diffId: digestOf(extraTar) };
  const imgA = layers;
  const imgB = [layers[0]!, layers[1]!, extra];
  await store.prepare(imgA, content, { owner: 'image:a' });
  await store.prepare(imgB, content, { owner: 'image:b' });
  const idsA = chainIds(imgA.map((l) => l.diffId));
  const idsB = chainIds(imgB.map((l) => l.diffId));
  assert.deepEqual(await store.owners(idsA[0]!), ['image:a', 'image:b']);
  assert.deepEqual(await store.gc(), []);

  for (const id of idsA) await store.unref(id, 'image:a');
  assert.deepEqual(await store.gc(), [idsA[2]!]);
  assert.equal(await store.has(idsA[2]!), false);
  for (const id of idsB) assert.equal(await store.has(id), true);

  // ref() then unref by another owner keeps it; dropping the last owner frees it.
  await store.ref(idsB[2]!, 'container:1');
  for (const id of idsB) await store.unref(id, 'image:b');
  assert.deepEqual((await store.gc()).sort(), [idsB[0]!, idsB[1]!].sort());
  assert.deepEqual(await store.ids(), [idsB[2]!]);
  await store.unref(idsB[2]!, 'container:1');
  assert.deepEqual(await store.gc(), [idsB[2]!]);
  assert.deepEqual(snapshotDirs(root), []);
  await assert.rejects(store.ref(idsB[2]!, 'x'), /not found/);

  // A crashed unpack (dead pid) is cleaned up; a live process's one is not.
  mkdirSync(join(root, 'tmp', '999999999-1-abcdef', 'fs'), { recursive: true });
  mkdirSync(join(root, 'tmp', 'junk'));
  assert.deepEqual((await store.cleanup()).sort(), ['999999999-1-abcdef', 'junk']);
  assert.deepEqual(readdirSync(join(root, 'tmp')), []);
  assert.ok(existsSync(join(root, 'snapshots')));
});
