// Layer decompression (src/image/compression): gzip, zstd (libzstd's CLI as a child), plain tar;
// errors naming the layer; backpressure; no zstd process outliving an error or an abort.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';

import { DecompressError, decompress, declaredCompression, sniffCompression, whenClosed, zstdReason } from '../../src/image/compression/index.ts';

const zstdSync = (b: Buffer, ...args: string[]): Buffer => execFileSync('zstd', ['-q', '-c', ...args], { input: b, maxBuffer: 1 << 30 });

/** Pids of this process's zstd children. */
function zstdChildren(): number[] {
  const pids: number[] = [];
  for (const t of readdirSync('/proc/self/task')) {
    for (const p of readFileSync(`/proc/self/task/${t}/children`, 'utf8').split(' ').filter(Boolean)) {
      try {
        if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'zstd') pids.push(Number(p));
      } catch {
        // exited meanwhile
      }
    }
  }
  return pids;
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** `b` as a stream of `size`-byte chunks. */
const chunked = (b: Buffer, size: number): Readable => Readable.from((function* () {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
})());

const DATA = Buffer.concat([Buffer.from('berth layer '.repeat(50_000)), randomBytes(100_000)]);

test('sniffing: gzip and zstd magic (and zstd skippable frames); media type suffixes', () => {
  assert.equal(sniffCompression(gzipSync('x')), 'gzip');
  assert.equal(sniffCompression(zstdSync(Buffer.from('x'))), 'zstd');
  assert.equal(sniffCompression(Buffer.from([0x5a, 0x2a, 0x4d, 0x18])), 'zstd');
  assert.equal(sniffCompression(Buffer.from('etc/')), undefined);
  assert.equal(sniffCompression(Buffer.from([0x28, 0xb5])), undefined, 'too short to be zstd');
  assert.equal(declaredCompression('application/vnd.oci.image.layer.v1.tar+zstd'), 'zstd');
  assert.equal(declaredCompression('application/vnd.docker.image.rootfs.diff.tar.zstd'), 'zstd');
  assert.equal(declaredCompression('application/vnd.docker.image.rootfs.diff.tar.gzip'), 'gzip');
  assert.equal(declaredCompression('application/vnd.oci.image.layer.v1.tar'), 'none');
});

test('gzip, zstd and plain streams come out whole, whatever the chunking (1-byte chunks included)', async () => {
  for (const [name, blob] of [['gzip', gzipSync(DATA)], ['zstd', zstdSync(DATA)], ['plain', DATA]] as const) {
    for (const size of [1, 3, 4096, blob.length]) {
      const src = size === 1 ? chunked(blob.subarray(0, 4096), 1) : chunked(blob, size);
      const want = size === 1 ? undefined : DATA;
      const out = await decompress(src, { what: `layer ${name}` });
      if (want) assert.ok((await collect(out)).equals(want), `${name}, ${size}-byte chunks`);
      else await collect(out).catch(() => undefined); // a prefix: only the sniffing is under test
    }
  }
  // multi-frame zstd (as `zstd` writes concatenated inputs) and multi-member gzip
  const twoFrames = Buffer.concat([zstdSync(DATA.subarray(0, 1000)), zstdSync(DATA.subarray(1000))]);
  assert.ok((await collect(await decompress(chunked(twoFrames, 777), { what: 'x' }))).equals(DATA));
  const twoMembers = Buffer.concat([gzipSync(DATA.subarray(0, 1000)), gzipSync(DATA.subarray(1000))]);
  assert.ok((await collect(await decompress(chunked(twoMembers, 777), { what: 'x' }))).equals(DATA));
});

test('the magic wins over the media type; bytes without a magic follow the media type', async () => {
  const asTar = await decompress(chunked(zstdSync(DATA), 1000), { what: 'x', mediaType: 'application/vnd.oci.image.layer.v1.tar' });
  assert.ok((await collect(asTar)).equals(DATA));
  const plainAsZstd = await decompress(chunked(Buffer.from('not zstd at all'), 5), { what: 'layer sha256:0f', mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' });
  await assert.rejects(collect(plainAsZstd), (e: unknown) => e instanceof DecompressError && /^layer sha256:0f: zstd: (unknown header|unsupported format)$/.test((e as Error).message));
  // empty and very short blobs
  assert.equal((await collect(await decompress(Readable.from([]), { what: 'x' }))).length, 0);
  assert.equal((await collect(await decompress(Readable.from([Buffer.from('ab')]), { what: 'x' }))).toString(), 'ab');
});

test('corrupt and truncated streams: errors name the layer and the decoder\'s reason', async () => {
  const z = zstdSync(DATA);
  const corrupt = Buffer.from(z);
  for (let i = 200; i < 260; i++) corrupt[i]! ^= 0x5a;
  const cases: Array<[string, Buffer, RegExp]> = [
    ['corrupt zstd', corrupt, /^layer sha256:aa: zstd: (Decoding error \(36\): )?\S.*(corrupt|Corrupt|checksum)/],
    ['truncated zstd', z.subarray(0, z.length >> 1), /^layer sha256:aa: zstd: Read error \(39\): premature end$/],
    ['truncated gzip', gzipSync(DATA).subarray(0, 5000), /^layer sha256:aa: gzip: unexpected end of file$/],
    ['corrupt gzip', Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), Buffer.alloc(100, 0xff)]), /^layer sha256:aa: gzip: /],
  ];
  for (const [name, blob, re] of cases) {
    const out = await decompress(chunked(blob, 4096), { what: 'layer sha256:aa' });
    await assert.rejects(collect(out), (e: unknown) => e instanceof DecompressError && re.test((e as Error).message), name);
    await whenClosed(out);
  }
  assert.deepEqual(zstdChildren(), []);
  assert.equal(zstdReason('/*stdin*\\ : Decoding error (36) : Corrupted block detected \n'), 'Decoding error (36): Corrupted block detected');
});

test('backpressure: a reader that stops stops zstd, which stops reading the blob', async () => {
  // 48 MiB of incompressible data: zstd stores it in raw blocks, so input ≈ output.
  const total = 48 << 20;
  const z = zstdSync(randomBytes(total), '-1');
  let pulled = 0;
  const src = new Readable({
    read() {
      if (pulled >= z.length) return void this.push(null);
      const c = z.subarray(pulled, pulled + 65536);
      pulled += c.length;
      this.push(c);
    },
  });
  const out = await decompress(src, { what: 'x' });
  const it = out[Symbol.asyncIterator]();
  await it.next();
  await new Promise((r) => setTimeout(r, 700));
  assert.ok(pulled < 8 << 20, `only pipe and decoder buffers' worth read ahead, not the blob: ${pulled} of ${z.length} bytes`);
  await it.return!();
  await whenClosed(out);
  assert.ok(src.destroyed, 'the blob reader is destroyed');
  assert.deepEqual(zstdChildren(), [], 'zstd killed and reaped');
});

test('destroy and abort mid-stream kill zstd; the stream closes only once it has exited', async () => {
  const z = zstdSync(DATA);
  const src = chunked(z, 1000);
  const out = await decompress(src, { what: 'x' });
  await new Promise((r) => out.once('readable', r));
  assert.equal(zstdChildren().length, 1, 'zstd runs while the stream is open');
  out.destroy();
  await whenClosed(out);
  assert.deepEqual(zstdChildren(), []);

  const ac = new AbortController();
  const out2 = await decompress(chunked(z, 1000), { what: 'x', signal: ac.signal });
  await new Promise((r) => out2.once('readable', r));
  ac.abort();
  await assert.rejects(collect(out2), { name: 'AbortError' });
  await whenClosed(out2);
  assert.deepEqual(zstdChildren(), []);
  await assert.rejects(decompress(chunked(z, 1000), { what: 'x', signal: ac.signal }), { name: 'AbortError' });
});

test('an error of the blob reader ends the stream with it, and zstd is gone', async () => {
  const z = zstdSync(DATA);
  let n = 0;
  const src = new Readable({
    read() {
      if (n++ === 3) return void this.destroy(new Error('EIO: disk gone'));
      this.push(z.subarray((n - 1) * 100, n * 100));
    },
  });
  const out = await decompress(src, { what: 'layer sha256:bb' });
  await assert.rejects(collect(out), (e: unknown) => e instanceof DecompressError && (e as Error).message === 'layer sha256:bb: reading the blob: EIO: disk gone');
  await whenClosed(out);
  assert.deepEqual(zstdChildren(), []);
});
