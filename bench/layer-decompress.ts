// gzip vs zstd layer throughput: a ~50 MB layer tar (/usr/lib/python3.11: many small files, as
// an image layer is) compressed as docker (gzip, level 6) and BuildKit (zstd, level 3) do, then
//   decompress: src/image/compression's stream drained (MB/s of tar out)
//   unpack:     SnapshotStore.prepare (decompress + DiffID + extract + rename) into a temp root
// Needs root (unpack chowns) and Debian's zstd.
//   node --import tsx bench/layer-decompress.ts [DIR] [RUNS]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { decompress } from '../src/image/compression/index.ts';
import { ContentStore, ingest } from '../src/image/store/content.ts';
import { digestOf } from '../src/image/store/digest.ts';
import { SnapshotStore } from '../src/image/snapshot/index.ts';
import { MEDIA_TYPE_OCI_LAYER, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_LAYER_ZSTD } from '../src/image/registry/media.ts';

const dir = process.argv[2] ?? '/usr/lib/python3.11';
const runs = Number(process.argv[3] ?? 5);
const MB = 1e6;

const tar = execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', dir, '-cf', '-', '.'], { maxBuffer: 1 << 30 });
const formats = [
  { name: 'gzip -6', mediaType: MEDIA_TYPE_OCI_LAYER_GZIP, blob: gzipSync(tar, { level: 6 }) },
  { name: 'zstd -3', mediaType: MEDIA_TYPE_OCI_LAYER_ZSTD, blob: execFileSync('zstd', ['-3', '-q', '-c'], { input: tar, maxBuffer: 1 << 30 }) },
  { name: 'tar', mediaType: MEDIA_TYPE_OCI_LAYER, blob: tar },
];
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const T = mkdtempSync(join(tmpdir(), 'berth-bench-layer-'));
try {
  const content = await ContentStore.open(join(T, 'content'));
  console.log(`layer: ${dir}, tar ${(tar.length / MB).toFixed(1)} MB; ${runs} runs each, median (best)`);
  for (const f of formats) {
    const digest = digestOf(f.blob);
    await ingest(content, `bench-${digest}`, f.blob, { size: f.blob.length, digest });
    const dec: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      let n = 0;
      for await (const c of await decompress(await content.reader(digest), { what: f.name, mediaType: f.mediaType })) n += (c as Buffer).length;
      dec.push(performance.now() - t0);
      if (n !== tar.length) throw new Error(`${f.name}: ${n} bytes out, want ${tar.length}`);
    }
    const unp: number[] = [];
    for (let i = 0; i < runs; i++) {
      const root = join(T, `snap-${i}`);
      const snaps = await SnapshotStore.open(root);
      const t0 = performance.now();
      await snaps.prepare([{ digest, mediaType: f.mediaType, diffId: digestOf(tar) }], content);
      unp.push(performance.now() - t0);
      rmSync(root, { recursive: true, force: true });
    }
    const rate = (ms: number): string => `${(tar.length / MB / (ms / 1000)).toFixed(0)} MB/s`;
    console.log(`${f.name.padEnd(8)} blob ${(f.blob.length / MB).toFixed(1).padStart(5)} MB | decompress ${median(dec).toFixed(0).padStart(5)} ms ${rate(median(dec)).padStart(9)} (best ${rate(Math.min(...dec))}) | unpack ${median(unp).toFixed(0).padStart(5)} ms ${rate(median(unp)).padStart(9)} (best ${rate(Math.min(...unp))})`);
  }
} finally {
  rmSync(T, { recursive: true, force: true });
}
