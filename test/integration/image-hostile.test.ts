// Hostile images in the pull path: each is refused by `berth pull` (or `berth bundle create`)
// with an error that says what and why, and leaves nothing behind: no name in refs.json, no file
// outside the layer dir, no partial snapshot, nothing in the content store's ingest/ or the
// snapshot store's tmp/, no mount, no process holding the root.
// Layers are served by Debian's docker-registry on 127.0.0.1; what it refuses to store (a blob
// whose bytes do not match its digest, a truncated transfer, a manifest that is not JSON or of an
// unknown type) by a small HTTP server of this test's own on 127.0.0.1 speaking the few /v2/
// endpoints a pull uses. Needs root and BERTH_CLI_SRC=1 (or `npm run build`).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { berth as berthCli, stopDaemons } from '../fixtures/berth-cli.ts';
import { show, type CommandResult } from '../fixtures/busybox.ts';
import { buildImage, pushImage, type BuiltImage, type LayerCompression } from '../fixtures/images.ts';
import { LocalRegistry, blob, tarOf } from '../fixtures/registry.ts';
import { chainIds } from '../../src/image/snapshot/index.ts';
import { digestOf } from '../../src/image/store/digest.ts';
import { ImageRefs } from '../../src/image/store/refs.ts';
import type { TarWriter } from '../../src/image/tar/index.ts';

const reg = new LocalRegistry();
let T = '';
let rootN = 0;
/** a fresh berth root per case: residue of one case cannot hide in another's */
const newRoot = (): string => join(T, 'roots', `r${++rootN}`);
const berth = (root: string, args: string[]): Promise<CommandResult> => berthCli(root, args, { timeoutMs: 60_000 });

// --- the test's own registry for what docker-registry will not serve --------------------------------

interface Served {
  status?: number;
  headers?: Record<string, string>;
  body: Buffer;
  /** send only this many bytes of `body` (Content-Length still says all), then cut the connection */
  cutAt?: number;
}

class FakeRegistry {
  readonly routes = new Map<string, Served>();
  readonly hits: string[] = [];
  server: Server | undefined;
  domain = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0]!;
      this.hits.push(`${req.method} ${path}`);
      if (path === '/v2/' || path === '/v2') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      const r = this.routes.get(path);
      if (!r) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'NOT_FOUND', message: path }] }));
        return;
      }
      res.writeHead(r.status ?? 200, { 'content-length': String(r.body.length), ...r.headers });
      if (req.method === 'HEAD') return void res.end();
      if (r.cutAt === undefined) return void res.end(r.body);
      res.write(r.body.subarray(0, r.cutAt), () => res.socket?.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.domain = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** Serves `img` under `repo:tag` as the registry would, then lets `tweak` spoil it. */
  serve(repo: string, tag: string, img: BuiltImage, tweak: (routes: { manifest: Served; config: Served; layers: Served[] }) => void = () => undefined): void {
    const manifest: Served = { headers: { 'content-type': img.mediaType }, body: img.manifest.bytes };
    const config: Served = { headers: { 'content-type': 'application/octet-stream' }, body: img.config.bytes };
    const layers: Served[] = img.layers.map((l) => ({ headers: { 'content-type': 'application/octet-stream' }, body: l.bytes }));
    tweak({ manifest, config, layers });
    this.routes.set(`/v2/${repo}/manifests/${tag}`, manifest);
    this.routes.set(`/v2/${repo}/manifests/${img.manifest.digest}`, manifest);
    this.routes.set(`/v2/${repo}/blobs/${img.config.digest}`, config);
    img.layers.forEach((l, i) => this.routes.set(`/v2/${repo}/blobs/${l.digest}`, layers[i]!));
  }
}

const fake = new FakeRegistry();

// --- residue --------------------------------------------------------------------------------------

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(`${dir}/`));
}

const listOr = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

const cmdline = (pid: string): string => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
const ppid = (pid: string): string => /^PPid:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';

/**
 * Processes (other than this one) with their cwd or an open file under `dir`, and zstd decoders
 * left by a berth of ours: orphans (its berth has exited) or children of a berth run on `dir`.
 * Other engineers' tests may run zstd decoders of their own meanwhile; those have a live parent.
 */
function processesHolding(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)) {
    try {
      const cmd = cmdline(pid);
      if (cmd.startsWith('/usr/bin/zstd -d -c -q')) {
        const parent = ppid(pid);
        if (parent === '1' || cmdline(parent).includes(dir)) found.push(`${pid} ${cmd} (parent ${parent})`);
      }
      let links = [readlinkSync(`/proc/${pid}/cwd`), ...readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; } })];
      // a root's berthd (it does the pulls) keeps its log, pid file and data-root lock open for
      // its life, and its zygote (which forks berthd's helpers) writes to that log: those are
      // not residue; any other file of the root they hold is
      if (/\/berthd\.js |\/berthd\.ts |^berth-init zygote /.test(`${cmd} `)) links = links.filter((l) => !/\/run\/berthd\.(log|pid)$|\/berthd\.lock$/.test(l));
      const held = links.filter((l) => l === dir || l.startsWith(`${dir}/`));
      if (held.length > 0) found.push(`${pid} ${cmd}: ${held.join(' ')}`);
    } catch {
      // exited meanwhile, or a kernel thread
    }
  }
  return found;
}

interface ResidueCheck {
  root: string;
  name: string;
  /** DiffIDs of the hostile image: no snapshot of theirs may exist */
  diffIds?: string[];
  /** paths outside every layer dir the layer aimed at */
  outside?: string[];
  /** a bundle dir the command was asked to create */
  bundle?: string;
}

async function assertNoResidue(c: ResidueCheck): Promise<void> {
  assert.equal(await new ImageRefs(join(c.root, 'refs.json')).resolve(c.name), undefined, `${c.name} is not tagged`);
  assert.deepEqual(listOr(join(c.root, 'content', 'ingest')), [], 'nothing left in the content store\'s ingest/');
  assert.deepEqual(listOr(join(c.root, 'snapshot', 'tmp')), [], 'nothing left in the snapshot store\'s tmp/');
  const snaps = listOr(join(c.root, 'snapshot', 'snapshots'));
  for (const s of snaps) assert.ok(existsSync(join(c.root, 'snapshot', 'snapshots', s, 'meta.json')), `snapshot ${s} is whole`);
  if (c.diffIds && c.diffIds.every((d) => /^sha256:[0-9a-f]{64}$/.test(d))) {
    for (const id of chainIds(c.diffIds)) assert.ok(!snaps.includes(id.slice(7)), `no snapshot ${id} of the hostile image`);
  }
  for (const p of c.outside ?? []) assert.ok(!existsSync(p), `${p} was not written`);
  if (c.bundle) assert.ok(!existsSync(c.bundle), `bundle dir ${c.bundle} removed`);
  assert.deepEqual(mountsUnder(T), [], 'no mount');
  assert.deepEqual(processesHolding(T), [], 'no process left (zstd, berth-init) holding the root');
}

/** `berth pull IMAGE` must fail with exit 1 and stderr matching `re`. */
async function pullFails(root: string, image: string, re: RegExp): Promise<CommandResult> {
  const r = await berth(root, ['pull', image]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, re, show(r));
  return r;
}

const layerTar = (fill: (w: TarWriter) => Promise<void>): Promise<Buffer> => tarOf(fill);

describe('hostile images in the pull path', { timeout: 300_000 }, () => {
  let outside = '';
  before(async () => {
    T = mkdtempSync(join(tmpdir(), 'berth-hostile-'));
    mkdirSync(join(T, 'roots'));
    mkdirSync(join(T, 'bundles'));
    outside = join(T, 'outside');
    mkdirSync(outside);
    await reg.start();
    await fake.start();
  });
  after(async () => {
    await stopDaemons(); // before the roots go: each berthd holds its root
    await reg.stop();
    await fake.stop();
    if (T) {
      for (const p of mountsUnder(T).reverse()) await import('../../src/image/bundle/overlay.ts').then((m) => m.unmountOverlay(p)).catch(() => undefined);
      rmSync(T, { recursive: true, force: true });
    }
  });

  /** Pushes a one-layer image of `tar` to docker-registry as `repo:1` and returns its name. */
  async function pushed(repo: string, tar: Buffer, compression: LayerCompression = 'gzip'): Promise<{ image: string; img: BuiltImage }> {
    const img = buildImage({ tars: [tar], compression });
    await pushImage(reg, repo, '1', img);
    return { image: `${reg.domain}/${repo}:1`, img };
  }

  it('a layer entry climbing out with ../', async () => {
    const marker = join(outside, 'dotdot');
    const depth = '../'.repeat(40);
    const { image, img } = await pushed('hostile/dotdot', await layerTar(async (w) => {
      await w.add({ path: 'etc/', type: 'dir' });
      await w.add({ path: `etc/${depth}${marker.slice(1)}`, type: 'file' }, Buffer.from('escaped\n'));
    }));
    const root = newRoot();
    await pullFails(root, image, new RegExp(`^layer ${img.layers[0]!.digest}: tar entry "etc/(\\.\\./)+${marker.slice(1)}": path escapes the layer root$`, 'm'));
    await assertNoResidue({ root, name: image, diffIds: img.diffIds, outside: [marker] });
  });

  it('a layer entry with an absolute name', async () => {
    const marker = join(outside, 'absolute');
    const { image, img } = await pushed('hostile/absolute', await layerTar(async (w) => {
      await w.add({ path: marker, type: 'file' }, Buffer.from('absolute\n'));
    }));
    const root = newRoot();
    await pullFails(root, image, new RegExp(`^layer ${img.layers[0]!.digest}: tar entry "${marker}": absolute path not allowed in a layer$`, 'm'));
    await assertNoResidue({ root, name: image, diffIds: img.diffIds, outside: [marker] });
  });

  it('a symlink to outside, then a file written through it', async () => {
    const { image, img } = await pushed('hostile/symlink', await layerTar(async (w) => {
      await w.add({ path: 'evil', type: 'symlink', linkname: outside });
      await w.add({ path: 'evil/pwned', type: 'file' }, Buffer.from('through the link\n'));
    }));
    const root = newRoot();
    await pullFails(root, image, new RegExp(`^layer ${img.layers[0]!.digest}: layer entry "evil/pwned": "evil" is a symlink; refusing to write through it$`, 'm'));
    await assertNoResidue({ root, name: image, diffIds: img.diffIds, outside: [join(outside, 'pwned')] });
    // the same through a relative symlink climbing to /, in a later directory
    const rel = await pushed('hostile/symlink-rel', await layerTar(async (w) => {
      await w.add({ path: 'a/', type: 'dir' });
      await w.add({ path: 'a/up', type: 'symlink', linkname: '../../../../../../../../../..' });
      await w.add({ path: `a/up${outside}/pwned-rel`, type: 'file' }, Buffer.from('through the link\n'));
    }));
    const root2 = newRoot();
    await pullFails(root2, rel.image, new RegExp(`^layer ${rel.img.layers[0]!.digest}: layer entry "a/up${outside}/pwned-rel": "a/up" is a symlink; refusing to write through it$`, 'm'));
    await assertNoResidue({ root: root2, name: rel.image, diffIds: rel.img.diffIds, outside: [join(outside, 'pwned-rel')] });
  });

  it('a hardlink to a file outside the layer', async () => {
    const target = join(outside, 'secret');
    await import('node:fs/promises').then((fs) => fs.writeFile(target, 'host secret\n'));
    for (const [repo, linkname, re] of [
      ['hostile/hardlink-dotdot', `../../../../../../../..${target}`, 'tar entry "(\\.\\./)+tmp/.*/secret": path escapes the layer root'],
      ['hostile/hardlink-abs', target, `tar entry "${target}": absolute path not allowed in a layer`],
    ] as const) {
      const { image, img } = await pushed(repo, await layerTar(async (w) => {
        await w.add({ path: 'hl', type: 'hardlink', linkname });
      }));
      const root = newRoot();
      await pullFails(root, image, new RegExp(`^layer ${img.layers[0]!.digest}: layer entry "hl": hardlink target "[^"]*secret": ${re}$`, 'm'));
      await assertNoResidue({ root, name: image, diffIds: img.diffIds });
      assert.equal(statSync(target).nlink, 1, 'no link was made to the host file');
    }
  });

  it('a layer of an unknown media type is refused before anything is fetched', async () => {
    const tar = await layerTar(async (w) => w.add({ path: 'f', type: 'file' }, Buffer.from('x')));
    const img = buildImage({ tars: [tar], layerMediaTypes: ['application/vnd.example.layer.v1.tar+lz4'] });
    await pushImage(reg, 'hostile/layer-type', '1', img);
    const image = `${reg.domain}/hostile/layer-type:1`;
    const root = newRoot();
    await pullFails(root, image, /^Error response from daemon: manifest .*hostile\/layer-type@sha256:[0-9a-f]{64}\.layers\[0\]: unsupported layer media type "application\/vnd\.example\.layer\.v1\.tar\+lz4" \(berth unpacks tar, tar\+gzip and tar\+zstd layers\)$/m);
    await assertNoResidue({ root, name: image, diffIds: img.diffIds });
    assert.ok(!existsSync(join(root, 'content', 'blobs', 'sha256', img.layers[0]!.digest.slice(7))), 'the layer was not fetched');
  });

  it('a config whose diff_ids do not match the layers: wrong DiffID, wrong count', async () => {
    const tar = await layerTar(async (w) => w.add({ path: 'f', type: 'file' }, Buffer.from('x')));
    const wrong = digestOf('another layer');
    const img = buildImage({ tars: [tar], diffIds: [wrong] });
    await pushImage(reg, 'hostile/diffid', '1', img);
    const image = `${reg.domain}/hostile/diffid:1`;
    const root = newRoot();
    await pullFails(root, image, new RegExp(`^layer ${img.layers[0]!.digest}: DiffID mismatch: expected ${wrong}, got ${digestOf(tar)} \\(uncompressed content\\)$`, 'm'));
    await assertNoResidue({ root, name: image, diffIds: img.diffIds });
    assert.deepEqual(listOr(join(root, 'snapshot', 'snapshots')), []);

    const two = buildImage({ tars: [tar], diffIds: [digestOf(tar), wrong] });
    await pushImage(reg, 'hostile/diffid-count', '1', two);
    const image2 = `${reg.domain}/hostile/diffid-count:1`;
    const root2 = newRoot();
    await pullFails(root2, image2, /^Error response from daemon: pull .*: the image config has 2 rootfs\.diff_ids for 1 layer\(s\) in the manifest$/m);
    await assertNoResidue({ root: root2, name: image2 });
    assert.deepEqual(listOr(join(root2, 'snapshot', 'snapshots')), []);
  });

  it('a corrupt zstd layer: refused by pull and by bundle create', async () => {
    const tar = await layerTar(async (w) => {
      for (let i = 0; i < 50; i++) await w.add({ path: `f${i}`, type: 'file' }, Buffer.from(`file ${i} `.repeat(2000)));
    });
    const good = buildImage({ tars: [tar], compression: 'zstd' });
    const bytes = Buffer.from(good.layers[0]!.bytes);
    for (let i = 100; i < 160; i++) bytes[i]! ^= 0x5a;
    const corrupt = blob(bytes);
    // the registry verifies digests, so the corrupt bytes get their own digest; the manifest names it
    const img = buildImage({ tars: [tar], compression: 'zstd' });
    img.layers = [corrupt];
    const manifest = JSON.parse(img.manifest.bytes.toString());
    manifest.layers[0].digest = corrupt.digest;
    manifest.layers[0].size = corrupt.bytes.length;
    img.manifest = blob(JSON.stringify(manifest));
    await pushImage(reg, 'hostile/zstd', '1', img);
    const image = `${reg.domain}/hostile/zstd:1`;
    // pull's failure comes inside berthd's progress stream (printed bare); bundle create's is berth's own
    const re = (prefix: string): RegExp => new RegExp(`^${prefix}layer ${corrupt.digest}: zstd: (Decoding error \\(36\\): )?(Corrupted block detected|Data corruption detected|Restored data doesn't match checksum)`, 'm');
    const root = newRoot();
    await pullFails(root, image, re(''));
    await assertNoResidue({ root, name: image, diffIds: img.diffIds });

    const root2 = newRoot();
    const bundle = join(T, 'bundles', 'zstd');
    const b = await berth(root2, ['bundle', 'create', image, bundle]);
    assert.equal(b.code, 1, show(b));
    assert.match(b.stderr, re('berth: '));
    await assertNoResidue({ root: root2, name: image, diffIds: img.diffIds, bundle });
  });

  // --- served by the test's own registry ---

  const tinyTar = (): Promise<Buffer> => layerTar(async (w) => w.add({ path: 'hello', type: 'file' }, Buffer.from('hello\n')));

  it('a blob whose bytes do not match its digest', async () => {
    const img = buildImage({ tars: [await tinyTar()] });
    const other = blob(Buffer.from(img.layers[0]!.bytes.map((b, i) => (i === 20 ? b ^ 1 : b))));
    fake.serve('hostile/digest', '1', img, (r) => { r.layers[0]!.body = other.bytes; });
    const image = `${fake.domain}/hostile/digest:1`;
    const root = newRoot();
    await pullFails(root, image, new RegExp(`^blob hostile/digest@.*digest mismatch: expected ${img.layers[0]!.digest}, got ${other.digest}`, 'm'));
    await assertNoResidue({ root, name: image, diffIds: img.diffIds });
  });

  it('a truncated blob: Content-Length larger than the body, the connection cut', async () => {
    const big = await layerTar(async (w) => w.add({ path: 'big', type: 'file' }, Buffer.alloc(300_000, 7)));
    const img = buildImage({ tars: [big], compression: 'none' });
    fake.serve('hostile/truncated', '1', img, (r) => { r.layers[0]!.cutAt = 100_000; });
    const image = `${fake.domain}/hostile/truncated:1`;
    const root = newRoot();
    await pullFails(root, image, /^blob hostile\/truncated@.*: transfer (interrupted|ended) at byte \d+.* \(gave up after \d+ attempts\)$/m);
    await assertNoResidue({ root, name: image, diffIds: img.diffIds });
  });

  it('a manifest that is not JSON', async () => {
    const img = buildImage({ tars: [await tinyTar()] });
    fake.serve('hostile/notjson', '1', img, (r) => { r.manifest.body = Buffer.from('{"schemaVersion": 2, "layers": [ oops'); });
    const image = `${fake.domain}/hostile/notjson:1`;
    const root = newRoot();
    await pullFails(root, image, /^Error response from daemon: manifest .*hostile\/notjson@sha256:[0-9a-f]{64}: not JSON: /m);
    await assertNoResidue({ root, name: image });
  });

  it('a manifest of an unknown media type', async () => {
    const img = buildImage({ tars: [await tinyTar()] });
    const m = JSON.parse(img.manifest.bytes.toString());
    m.mediaType = 'application/vnd.example.manifest.v9+json';
    const body = Buffer.from(JSON.stringify(m));
    fake.serve('hostile/mtype', '1', img, (r) => {
      r.manifest.body = body;
      r.manifest.headers = { 'content-type': 'application/vnd.example.manifest.v9+json' };
    });
    const image = `${fake.domain}/hostile/mtype:1`;
    const root = newRoot();
    await pullFails(root, image, /^Error response from daemon: .*hostile\/mtype:1: unsupported manifest media type "application\/vnd\.example\.manifest\.v9\+json"$/m);
    await assertNoResidue({ root, name: image });
    // not one blob was asked for
    assert.ok(!fake.hits.some((h) => h.includes('/hostile/mtype/blobs/')), fake.hits.join('\n'));
  });

  it('16: a manifest listing one layer blob 4 times: unpacked once (the other chains link it), the image mounts', async () => {
    // 64 MiB of zeros gzips to ~64 KiB: four listings used to write 256 MiB of snapshots
    const SIZE = 64 << 20;
    const tar = await layerTar(async (w) => {
      await w.add({ path: 'zeros/', type: 'dir', mode: 0o755 });
      await w.add({ path: 'zeros/z', type: 'file', mode: 0o644 }, Buffer.alloc(SIZE));
    });
    const top = await layerTar(async (w) => w.add({ path: 'top', type: 'file' }, Buffer.from('top\n')));
    const img = buildImage({ tars: [tar, tar, tar, tar, top] });
    assert.equal(new Set(img.layers.slice(0, 4).map((l) => l.digest)).size, 1, 'one blob listed 4 times');
    assert.ok(img.layers[0]!.bytes.length < 1 << 20);
    await pushImage(reg, 'hostile/repeated', '1', img);
    const image = `${reg.domain}/hostile/repeated:1`;
    const root = newRoot();
    const r = await berth(root, ['pull', image]);
    assert.equal(r.code, 0, show(r));
    // every chain position is a snapshot of its own (overlayfs refuses one lowerdir twice)
    const snaps = listOr(join(root, 'snapshot', 'snapshots'));
    assert.deepEqual(snaps.sort(), chainIds(img.diffIds).map((d) => d.slice(7)).sort());
    // du counts a hard-linked file once: the store holds the zeros once, not four times
    const du = (args: string[]): number => Number(execFileSync('du', [...args, root]).toString().split('\t')[0]);
    const apparent = du(['-s', '--bytes']);
    assert.ok(apparent >= SIZE && apparent < SIZE + (4 << 20), `the store holds ${apparent} bytes (apparent) for a ${SIZE}-byte layer listed 4 times`);
    const allocated = du(['-s', '--block-size=1']);
    assert.ok(allocated < SIZE + (4 << 20), `the store allocates ${allocated} bytes for a ${SIZE}-byte layer listed 4 times`);
    // the image mounts: four distinct lowerdirs of the same content, the top file above them
    const bundle = join(T, 'bundles', 'repeated');
    const b = await berth(root, ['bundle', 'create', image, bundle]);
    assert.equal(b.code, 0, show(b));
    try {
      assert.equal(statSync(join(bundle, 'rootfs', 'zeros', 'z')).size, SIZE);
      assert.equal(readFileSync(join(bundle, 'rootfs', 'top'), 'utf8'), 'top\n');
    } finally {
      const rm = await berth(root, ['bundle', 'rm', bundle]);
      assert.equal(rm.code, 0, show(rm));
    }
    // pruning the image removes every chain, and reports the zeros once, as they were stored
    const before = du(['-s', '--bytes']);
    const prune = await berth(root, ['image', 'prune', '-a', '-f']);
    assert.equal(prune.code, 0, show(prune));
    assert.deepEqual(listOr(join(root, 'snapshot', 'snapshots')), []);
    const freed = before - du(['-s', '--bytes']);
    assert.ok(freed >= SIZE, `${freed}`);
    const m = /Total reclaimed space: ([\d.]+)MB\n$/.exec(prune.stdout);
    assert.ok(m, prune.stdout);
    assert.ok(Math.abs(Number(m[1]) * 1e6 - freed) < 256 * 1024, `prune reported ${m[1]}MB; du says ${freed} bytes were freed`);
  });

  it('the good image the hostile ones were made from pulls (the fixtures are sound)', async () => {
    const img = buildImage({ tars: [await tinyTar()], compression: 'zstd' });
    fake.serve('hostile/control', '1', img);
    const image = `${fake.domain}/hostile/control:1`;
    const root = newRoot();
    const r = await berth(root, ['pull', image]);
    assert.equal(r.code, 0, show(r));
    assert.equal(await new ImageRefs(join(root, 'refs.json')).resolve(image), img.manifest.digest);
  });
});
