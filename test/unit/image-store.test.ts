// The image store (src/image/store): digests, the content store's write lifecycle (commit,
// mismatch, resume, locks, crash recovery), the image index and garbage collection. Temp dirs,
// no root needed.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, existsSync, writeFileSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Digester, digestOf, isDigest, parseDigest, type Digest } from '../../src/image/store/digest.ts';
import { ContentStore, ingest, storeKnownBytes } from '../../src/image/store/content.ts';
import { ImageRefs } from '../../src/image/store/refs.ts';
import { collectGarbage } from '../../src/image/store/gc.ts';
import { Leases } from '../../src/image/store/lease.ts';
import {
  CorruptError, DigestMismatchError, InvalidDigestError, LockedError, NotFoundError, SizeMismatchError,
} from '../../src/image/store/errors.ts';

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'berth-image-store-'));
});
after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
async function newStore(): Promise<ContentStore> {
  return ContentStore.open(join(tmp, `store-${n++}`));
}

/** A pid that is certainly not running: a child that has exited and been reaped. */
function deadPid(): number {
  const r = spawnSync('true');
  assert.ok(r.pid && r.status === 0);
  return r.pid;
}

/** Nothing left in ingest/ and no blob files besides `blobs`. */
function assertNoResidue(store: ContentStore, blobs: string[] = []): void {
  assert.deepEqual(readdirSync(store.ingestDir), [], 'ingest dir empty');
  assert.deepEqual(readdirSync(store.blobsDir).sort(), blobs.sort(), 'blob files');
}

const hello = Buffer.from('hello, berth\n');
const helloDigest = digestOf(hello);

describe('digest', () => {
  test('parseDigest accepts sha256:<64 lowercase hex>', () => {
    const d = 'sha256:' + 'a'.repeat(64);
    assert.equal(parseDigest(d), d);
    assert.ok(isDigest(d));
  });

  test('parseDigest rejects, saying why: no prefix, other algorithm, wrong length, uppercase hex', () => {
    const where = 'manifest layers[0].digest';
    assert.throws(() => parseDigest('a'.repeat(64), where), (e: Error) => e instanceof InvalidDigestError && /layers\[0\]\.digest: .*missing "algorithm:" prefix/.test(e.message));
    assert.throws(() => parseDigest('sha512:' + 'a'.repeat(128)), /unsupported algorithm "sha512"/);
    assert.throws(() => parseDigest('sha256:abc'), /3 hex digits, want 64/);
    assert.throws(() => parseDigest('sha256:' + 'A'.repeat(64)), /not lowercase hex/);
    assert.throws(() => parseDigest(42), /expected a digest string, got number/);
  });

  test('digestOf of the empty input is the well-known empty sha256', () => {
    assert.equal(digestOf(''), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  test('Digester: digest() mid-stream does not end the hash; chunks hash like the whole', () => {
    const d = new Digester().update(hello.subarray(0, 5));
    assert.equal(d.digest(), digestOf(hello.subarray(0, 5)));
    d.update(hello.subarray(5));
    assert.equal(d.digest(), helloDigest);
    assert.equal(d.size, hello.length);
  });
});

describe('content store: commit', () => {
  test('commit of the expected size and digest makes the blob visible, read-only, and removes the ingest', async () => {
    const store = await newStore();
    const w = await store.writer('layer-1', { expectedSize: hello.length, expectedDigest: helloDigest });
    await w.write(hello.subarray(0, 4));
    assert.equal(await store.has(helloDigest), false, 'invisible before commit');
    assert.deepEqual(await store.list(), [], 'not listed before commit');
    await w.write(hello.subarray(4));
    assert.equal(w.offset, hello.length);
    assert.equal(await w.commit(hello.length, helloDigest), helloDigest);
    assert.deepEqual((await store.readAll(helloDigest)).toString(), hello.toString());
    const info = await store.info(helloDigest);
    assert.equal(info.size, hello.length);
    assert.equal(statSync(store.blobPath(helloDigest)).mode & 0o777, 0o444);
    assertNoResidue(store, [helloDigest.slice(7)]);
    assert.equal(await store.status('layer-1'), undefined);
  });

  test('commit without an expected digest stores under the computed digest', async () => {
    const store = await newStore();
    const w = await store.writer('x');
    await w.write(hello);
    assert.equal(await w.commit(hello.length), helloDigest);
  });

  test('reader streams the blob from an offset', async () => {
    const store = await newStore();
    await ingest(store, 'r', hello, { size: hello.length, digest: helloDigest });
    const chunks: Buffer[] = [];
    for await (const c of await store.reader(helloDigest, { offset: 7 })) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), hello.subarray(7).toString());
  });

  test('an empty blob (size 0) commits', async () => {
    const store = await newStore();
    const w = await store.writer('empty');
    assert.equal(await w.commit(0, digestOf('')), digestOf(''));
    assert.equal((await store.info(digestOf(''))).size, 0);
  });

  test('info, reader, readAll and delete of an absent blob: NotFoundError naming the digest', async () => {
    const store = await newStore();
    await assert.rejects(store.info(helloDigest), (e: Error) => e instanceof NotFoundError && e.message.includes(helloDigest));
    await assert.rejects(store.reader(helloDigest), NotFoundError);
    await assert.rejects(store.readAll(helloDigest), NotFoundError);
    await assert.rejects(store.delete(helloDigest), NotFoundError);
  });

  test('readAll detects a blob corrupted on disk', async () => {
    const store = await newStore();
    await ingest(store, 'c', hello, { size: hello.length });
    rmSync(store.blobPath(helloDigest));
    writeFileSync(store.blobPath(helloDigest), 'tampered');
    await assert.rejects(store.readAll(helloDigest), /corrupt on disk: digest mismatch/);
  });
});

describe('content store: mismatches leave nothing', () => {
  test('digest mismatch: error names expected and actual; no blob, no ingest, no status', async () => {
    const store = await newStore();
    const wrong = digestOf('something else');
    const w = await store.writer('bad-digest');
    await w.write(hello);
    await assert.rejects(w.commit(hello.length, wrong), (e: Error) => {
      assert.ok(e instanceof DigestMismatchError);
      assert.equal(e.message, `ingest "bad-digest": digest mismatch: expected ${wrong}, got ${helloDigest}`);
      return true;
    });
    assertNoResidue(store);
    assert.equal(await store.status('bad-digest'), undefined);
    assert.equal(await store.has(helloDigest), false);
    assert.equal(await store.has(wrong), false);
  });

  test('digest mismatch against the writer\'s expectedDigest (commit given none)', async () => {
    const store = await newStore();
    const w = await store.writer('bad2', { expectedDigest: digestOf('other') });
    await w.write(hello);
    await assert.rejects(w.commit(hello.length), DigestMismatchError);
    assertNoResidue(store);
  });

  test('size mismatch at commit (truncated blob): no blob, no ingest', async () => {
    const store = await newStore();
    const w = await store.writer('short');
    await w.write(hello.subarray(0, 5));
    await assert.rejects(w.commit(hello.length, helloDigest), (e: Error) =>
      e instanceof SizeMismatchError && e.message === `ingest "short": size mismatch: expected ${hello.length} bytes, got 5`);
    assertNoResidue(store);
  });

  test('size mismatch during write: more data than expectedSize fails at once and removes the ingest', async () => {
    const store = await newStore();
    const w = await store.writer('long', { expectedSize: 3 });
    await assert.rejects(w.write(hello), /size mismatch: expected 3 bytes, got 13 or more/);
    assertNoResidue(store);
    await assert.rejects(w.commit(3), /already committed, aborted or closed/);
  });

  test('ingest() of a failing source keeps the partial data to resume; abort removes it', async () => {
    const store = await newStore();
    async function* broken() {
      yield hello.subarray(0, 6);
      throw new Error('connection reset');
    }
    await assert.rejects(ingest(store, 'net', broken(), { size: hello.length, digest: helloDigest }), /connection reset/);
    assert.equal((await store.status('net'))?.offset, 6);
    assert.equal(await store.has(helloDigest), false);
    await store.abortIngest('net');
    assertNoResidue(store);
  });
});

describe('content store: resume', () => {
  test('resume from status offset: a new writer rehashes the partial file and commits the right digest', async () => {
    const store = await newStore();
    const blob = Buffer.alloc(300_000);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 7) & 0xff;
    const d = digestOf(blob);
    const w1 = await store.writer('pull-layer', { expectedSize: blob.length, expectedDigest: d });
    await w1.write(blob.subarray(0, 123_457));
    await w1.close(); // interrupted download
    const st = await store.status('pull-layer');
    assert.equal(st?.offset, 123_457);
    assert.equal(st?.expectedDigest, d);
    assert.equal(st?.lockedBy, undefined);

    const w2 = await store.writer('pull-layer', { expectedSize: blob.length, expectedDigest: d });
    assert.equal(w2.offset, 123_457);
    assert.equal(w2.digest(), digestOf(blob.subarray(0, 123_457)));
    await w2.write(blob.subarray(w2.offset)); // "Range: bytes=123457-"
    assert.equal(await w2.commit(blob.length, d), d);
    assertNoResidue(store, [d.slice(7)]);
  });

  test('a partial ingest of other content under the same ref is restarted, not resumed', async () => {
    const store = await newStore();
    const w1 = await store.writer('ref', { expectedDigest: digestOf('aaaa') });
    await w1.write(Buffer.from('aa'));
    await w1.close();
    const w2 = await store.writer('ref', { expectedDigest: helloDigest });
    assert.equal(w2.offset, 0);
    await w2.write(hello);
    assert.equal(await w2.commit(hello.length), helloDigest);
  });
});

describe('content store: concurrency', () => {
  test('two writers of the same ref: the second gets "ref locked" naming the pid', async () => {
    const store = await newStore();
    const w1 = await store.writer('same-ref');
    await assert.rejects(store.writer('same-ref'), (e: Error) =>
      e instanceof LockedError && /ingest "same-ref": ref locked: locked by pid \d+/.test(e.message) && e.pid === process.pid);
    assert.equal((await store.status('same-ref'))?.lockedBy, process.pid);
    await w1.write(hello);
    await w1.commit(hello.length, helloDigest);
    // released by the commit: the ref can be written again
    const w3 = await store.writer('same-ref');
    await w3.abort();
    assertNoResidue(store, [helloDigest.slice(7)]);
  });

  test('abortIngest of a ref a live writer holds fails with LockedError', async () => {
    const store = await newStore();
    const w = await store.writer('held');
    await assert.rejects(store.abortIngest('held'), LockedError);
    await w.abort();
    await assert.rejects(store.abortIngest('held'), NotFoundError);
  });

  test('same content under two refs at once: both commit, the blob is stored once', async () => {
    const store = await newStore();
    const a = await store.writer('ref-a', { expectedDigest: helloDigest });
    const b = await store.writer('ref-b', { expectedDigest: helloDigest });
    await Promise.all([a.write(hello), b.write(hello)]);
    const [da, db] = await Promise.all([a.commit(hello.length, helloDigest), b.commit(hello.length, helloDigest)]);
    assert.equal(da, helloDigest);
    assert.equal(db, helloDigest);
    assertNoResidue(store, [helloDigest.slice(7)]);
    assert.equal((await store.list()).length, 1);
    // and again later, after it exists
    assert.equal(await ingest(store, 'ref-c', hello, { size: hello.length, digest: helloDigest }), helloDigest);
    assertNoResidue(store, [helloDigest.slice(7)]);
  });

  test('many concurrent writers of one ref: exactly one gets the lock', async () => {
    const store = await newStore();
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => store.writer('race')));
    const ok = results.filter((r) => r.status === 'fulfilled');
    assert.equal(ok.length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof LockedError);
    await (ok[0] as PromiseFulfilledResult<Awaited<ReturnType<ContentStore['writer']>>>).value.abort();
  });

  test('storeKnownBytes of one ref eight times at once (one daemon pulling an image twice): all succeed, stored once', async () => {
    const store = await newStore();
    // plain ingest() of the same ref at once fails for all but one: the case storeKnownBytes exists for
    const plain = await Promise.allSettled(Array.from({ length: 8 }, () => ingest(store, 'plain', hello, { size: hello.length, digest: helloDigest })));
    assert.ok(plain.some((r) => r.status === 'rejected' && r.reason instanceof LockedError), 'a plain ingest race loses');
    await store.delete(helloDigest);
    await Promise.all(Array.from({ length: 8 }, () => storeKnownBytes(store, 'manifest', hello, helloDigest)));
    assert.equal(await store.has(helloDigest), true);
    assertNoResidue(store, [helloDigest.slice(7)]);
  });

  test('stale lock takeover: a lock of a dead pid is taken over and the ingest resumed', async () => {
    const store = await newStore();
    const w1 = await store.writer('stale', { expectedDigest: helloDigest });
    await w1.write(hello.subarray(0, 8));
    // The writer's process "dies": its lock now names a dead pid.
    const lockPath = join(store.ingestPath('stale'), 'lock');
    writeFileSync(lockPath, `${deadPid()} - deadbeef\n`);
    assert.equal((await store.status('stale'))?.lockedBy, undefined);
    const w2 = await store.writer('stale', { expectedDigest: helloDigest });
    assert.equal(w2.offset, 8);
    assert.match(readFileSync(lockPath, 'utf8'), new RegExp(`^${process.pid} `));
    await w2.write(hello.subarray(8));
    assert.equal(await w2.commit(hello.length), helloDigest);
    assertNoResidue(store, [helloDigest.slice(7)]);
  });

  test('a lock whose pid was reused by another process (start time differs) is stale', async () => {
    const store = await newStore();
    const w1 = await store.writer('reused');
    writeFileSync(join(store.ingestPath('reused'), 'lock'), `${process.pid} 1 cafe\n`); // our pid, not our start time
    const w2 = await store.writer('reused');
    await w2.abort();
    await w1.close(); // the old holder's release leaves a lock that is not its own alone
  });

  test('a writer in another process: LockedError with its pid; after it is SIGKILLed, the ref is taken over and resumed', async () => {
    const store = await newStore();
    const url = new URL('../../src/image/store/content.ts', import.meta.url).href;
    const code = `import { ContentStore } from ${JSON.stringify(url)};
      const s = await ContentStore.open(${JSON.stringify(store.root)});
      const w = await s.writer('pull', { expectedDigest: ${JSON.stringify(helloDigest)} });
      await w.write(Buffer.from(${JSON.stringify(hello.subarray(0, 9).toString())}));
      console.log('ready');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
        child.once('exit', (c) => reject(new Error(`child exited ${c}`)));
      });
      await assert.rejects(store.writer('pull'), (e: Error) => e instanceof LockedError && e.pid === child.pid);
      assert.equal((await store.status('pull'))?.lockedBy, child.pid);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    const w = await store.writer('pull');
    assert.equal(w.offset, 9);
    await w.write(hello.subarray(9));
    assert.equal(await w.commit(hello.length), helloDigest);
    assertNoResidue(store, [helloDigest.slice(7)]);
  });
});

describe('content store: crash recovery', () => {
  /** A partial ingest + a lock of a dead pid, as a crash mid-pull leaves them. */
  async function crashed(store: ContentStore, ref: string, bytes: Buffer): Promise<void> {
    const w = await store.writer(ref, { expectedSize: hello.length, expectedDigest: helloDigest });
    await w.write(bytes);
    writeFileSync(join(store.ingestPath(ref), 'lock'), `${deadPid()} - 0123\n`);
    writeFileSync(join(store.ingestPath(ref), 'lock.stale-1-abc'), 'leftover of an interrupted takeover');
  }

  test('cleanupStaleIngests keeps a recent interrupted ingest for resume, releasing the dead lock', async () => {
    const store = await newStore();
    await crashed(store, 'crash-1', hello.subarray(0, 5));
    const live = await store.writer('live');
    const r = await store.cleanupStaleIngests();
    assert.deepEqual(r, { active: ['live'], recovered: ['crash-1'], removed: [], freedBytes: 0 });
    const dir = store.ingestPath('crash-1');
    assert.deepEqual(readdirSync(dir).sort(), ['data', 'meta']);
    const w = await store.writer('crash-1');
    assert.equal(w.offset, 5);
    await w.write(hello.subarray(5));
    assert.equal(await w.commit(hello.length), helloDigest);
    await live.abort();
    assertNoResidue(store, [helloDigest.slice(7)]);
  });

  test('cleanupStaleIngests removes interrupted ingests older than maxAgeMs, and dirs a crash left without data', async () => {
    const store = await newStore();
    await crashed(store, 'old', hello.subarray(0, 5));
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(join(store.ingestPath('old'), 'data'), old, old);
    // a crash between commit's rename and the ingest dir's removal: meta + dead lock, no data
    await crashed(store, 'committed', hello.subarray(0, 1));
    rmSync(join(store.ingestPath('committed'), 'data'));
    const r = await store.cleanupStaleIngests({ maxAgeMs: 60_000 });
    assert.deepEqual(r.removed.sort(), ['committed', 'old']);
    assert.equal(r.freedBytes, 5, 'the partial data removed');
    assertNoResidue(store);
  });

  test('a corrupt partial (crash lost the tail) resumes, then fails its digest check and leaves nothing', async () => {
    const store = await newStore();
    await crashed(store, 'torn', Buffer.from('hellX'));
    const w = await store.writer('torn', { expectedSize: hello.length, expectedDigest: helloDigest });
    await w.write(hello.subarray(w.offset));
    await assert.rejects(w.commit(hello.length), DigestMismatchError);
    assertNoResidue(store);
  });
});

describe('image refs', () => {
  const d1 = digestOf('manifest 1');
  const d2 = digestOf('manifest 2');

  test('tag, resolve, names of a digest, list, untag; persisted across instances', async () => {
    const file = join(tmp, `refs-${n++}`, 'refs.json');
    const refs = new ImageRefs(file);
    assert.equal(await refs.resolve('docker.io/library/busybox:latest'), undefined);
    assert.equal(await refs.tag('docker.io/library/busybox:latest', d1), undefined);
    assert.equal(await refs.tag('docker.io/library/busybox:1.36', d1), undefined);
    assert.equal(await refs.tag('docker.io/library/alpine:3', d2), undefined);

    const again = new ImageRefs(file);
    assert.equal(await again.resolve('docker.io/library/busybox:latest'), d1);
    assert.deepEqual(await again.namesOf(d1), ['docker.io/library/busybox:1.36', 'docker.io/library/busybox:latest']);
    assert.deepEqual((await again.list()).map((e) => e.name), ['docker.io/library/alpine:3', 'docker.io/library/busybox:1.36', 'docker.io/library/busybox:latest']);
    assert.deepEqual(await again.roots(), new Set([d1, d2]));

    assert.equal(await again.tag('docker.io/library/busybox:latest', d2), d1, 'retag returns the previous digest');
    assert.equal(await again.untag('docker.io/library/busybox:1.36'), d1);
    assert.equal(await again.untag('docker.io/library/busybox:1.36'), undefined, 'untag of an absent name');
    assert.deepEqual(await refs.namesOf(d1), []);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(doc.names, { 'docker.io/library/alpine:3': d2, 'docker.io/library/busybox:latest': d2 });
    assert.deepEqual(Object.keys(doc.images).sort(), [d1, d2].sort(), 'd1 lost its names but is still an image (dangling)');
    assert.deepEqual((await refs.images()).map((i) => [i.digest, i.names.length]).sort(), [[d1, 0], [d2, 2]].sort());
    assert.deepEqual(readdirSync(join(file, '..')).sort(), ['refs.json'], 'no temp or lock files left');
  });

  test('concurrent tags do not lose updates (read-modify-write under the lock)', async () => {
    const refs = new ImageRefs(join(tmp, `refs-${n++}`, 'refs.json'));
    await Promise.all(Array.from({ length: 20 }, (_, i) => new ImageRefs(refs.file).tag(`example.com/app:${i}`, d1)));
    assert.equal((await refs.list()).length, 20);
  });

  test('a stale refs lock of a dead pid does not block tagging', async () => {
    const dir = join(tmp, `refs-${n++}`);
    const refs = new ImageRefs(join(dir, 'refs.json'), 500);
    await refs.tag('a:1', d1);
    writeFileSync(refs.lockPath, `${deadPid()} - 99\n`);
    await refs.tag('a:2', d1);
    assert.equal(existsSync(refs.lockPath), false);
  });

  test('a refs lock held by a live process times out with LockedError naming it', async () => {
    const refs = new ImageRefs(join(tmp, `refs-${n++}`, 'refs.json'), 100);
    await refs.tag('a:1', d1);
    writeFileSync(refs.lockPath, `1 - 99\n`); // pid 1 is alive
    await assert.rejects(refs.tag('a:2', d1), (e: Error) => e instanceof LockedError && /locked by pid 1/.test(e.message));
    rmSync(refs.lockPath);
  });

  test('invalid names and digests are rejected; a corrupt index file is reported with its path', async () => {
    const file = join(tmp, `refs-${n++}`, 'refs.json');
    const refs = new ImageRefs(file);
    await assert.rejects(refs.tag('has space', d1), /whitespace/);
    await assert.rejects(refs.tag('a:1', 'sha256:nope' as Digest), InvalidDigestError);
    await refs.tag('a:1', d1);
    writeFileSync(file, '{"schemaVersion":1,"names":{"a:1":"md5:x"}}');
    await assert.rejects(refs.resolve('a:1'), (e: Error) => e instanceof CorruptError && e.message.includes(file));
    writeFileSync(file, 'not json');
    await assert.rejects(refs.list(), /not JSON/);
  });
});

describe('image records (refs.json images)', () => {
  const d1 = digestOf('manifest 1');
  const idx = digestOf('index 1');

  test('a refs.json from before image records is read as-is: every named digest is an image, rewritten on change', async () => {
    const file = join(tmp, `refs-${n++}`, 'refs.json');
    const refs = new ImageRefs(file);
    await refs.tag('a:1', d1); // creates the dir
    writeFileSync(file, JSON.stringify({ schemaVersion: 1, names: { 'a:1': d1, 'b:1': d1 } }));
    assert.deepEqual(await refs.images(), [{ digest: d1, record: {}, names: ['a:1', 'b:1'] }]);
    await refs.untag('b:1');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(doc, { schemaVersion: 1, names: { 'a:1': d1 }, images: { [d1]: {} } });
  });

  test('tag records the index digest (a root) and the last tag time; re-tagging the same digest keeps the time', async () => {
    const refs = new ImageRefs(join(tmp, `refs-${n++}`, 'refs.json'));
    await refs.tag('a:1', d1, { indexDigest: idx });
    const [first] = await refs.images();
    assert.equal(first!.record.indexDigest, idx);
    assert.ok(first!.record.addedAt && first!.record.lastTagTime);
    assert.deepEqual(await refs.roots(), new Set([d1, idx]));
    await new Promise((r) => setTimeout(r, 5));
    await refs.tag('a:1', d1);
    assert.equal((await refs.images())[0]!.record.lastTagTime, first!.record.lastTagTime);
    await refs.tag('a:2', d1);
    assert.notEqual((await refs.images())[0]!.record.lastTagTime, first!.record.lastTagTime);
  });

  test('a digest name only points at the content of its digest (the manifest, or the index it was pulled through)', async () => {
    const d2 = digestOf('manifest 2');
    const refs = new ImageRefs(join(tmp, `refs-${n++}`, 'refs.json'));
    await refs.tag(`example.com/a@${d1}`, d1);
    await refs.tag(`example.com/b@${idx}`, d1, { indexDigest: idx });
    await assert.rejects(refs.tag(`example.com/c@${d1}`, d2), /tag example\.com\/c@sha256:[0-9a-f]{64}: a name with a digest can only point at the manifest \(or index\) of that digest, not at sha256:/);
    await assert.rejects(refs.tag(`example.com/c:1@${d1}`, d2), /a name with a digest can only point/);
    assert.equal(await refs.resolve(`example.com/c@${d1}`), undefined);
    assert.deepEqual((await refs.list()).map((e) => e.name), [`example.com/a@${d1}`, `example.com/b@${idx}`]);
  });

  test('a refs.json naming a digest that is not the image\'s (an older berth) is not trusted: dropped on read and on the next write', async () => {
    const d2 = digestOf('manifest 2');
    const file = join(tmp, `refs-${n++}`, 'refs.json');
    const refs = new ImageRefs(file);
    await refs.tag('a:1', d1);
    const bad = `example.com/x@${d2}`;
    writeFileSync(file, JSON.stringify({ schemaVersion: 1, names: { 'a:1': d1, [bad]: d1, [`example.com/x@${d1}`]: d1 } }));
    assert.equal(await refs.resolve(bad), undefined);
    assert.deepEqual((await refs.images()).map((i) => i.names), [['a:1', `example.com/x@${d1}`]]);
    await refs.tag('a:2', d1);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).names[bad], undefined);
  });

  test('removeImage forgets the image and its names; undefined for an unknown one', async () => {
    const refs = new ImageRefs(join(tmp, `refs-${n++}`, 'refs.json'));
    await refs.tag('a:1', d1);
    await refs.tag('a:2', d1);
    assert.deepEqual(await refs.removeImage(d1), ['a:1', 'a:2']);
    assert.deepEqual(await refs.images(), []);
    assert.deepEqual(await refs.roots(), new Set());
    assert.equal(await refs.removeImage(d1), undefined);
  });

  test('a corrupt image record is reported with its path', async () => {
    const file = join(tmp, `refs-${n++}`, 'refs.json');
    const refs = new ImageRefs(file);
    await refs.tag('a:1', d1);
    writeFileSync(file, JSON.stringify({ schemaVersion: 1, names: {}, images: { [d1]: { indexDigest: 'md5:x' } } }));
    await assert.rejects(refs.images(), (e: Error) => e instanceof CorruptError && e.message.includes(file) && /indexDigest/.test(e.message));
  });
});

describe('leases', () => {
  test('live leases name their digests; a dead process\'s lease is ignored and dropped when asked', async () => {
    const dir = join(tmp, `leases-${n++}`);
    const leases = new Leases(join(dir, 'leases'), join(dir, 'gc.lock'));
    const l = await leases.acquire('pull x');
    await l.add({ content: [helloDigest], snapshots: [digestOf('chain')] });
    const dead = deadPid();
    writeFileSync(join(dir, 'leases', `${dead}-0.json`), JSON.stringify({ pid: dead, start: '1', content: [digestOf('other')], snapshots: [] }));
    const a = await leases.active();
    assert.deepEqual([...a.content], [helloDigest]);
    assert.deepEqual([...a.snapshots], [digestOf('chain')]);
    assert.deepEqual(a.stale, [`${dead}-0`]);
    assert.equal(existsSync(join(dir, 'leases', `${dead}-0.json`)), true, 'not removed unless asked');
    await leases.exclusive('gc', () => leases.active({ removeStale: true }));
    assert.equal(existsSync(join(dir, 'leases', `${dead}-0.json`)), false);
    await l.release();
    assert.deepEqual((await leases.active()).leases, []);
    await assert.rejects(l.add({ content: [helloDigest] }), /already released/);
  });

  test('add() waits for a running collection (the gc lock), so a lease never changes mid-collection', async () => {
    const dir = join(tmp, `leases-${n++}`);
    const leases = new Leases(join(dir, 'leases'), join(dir, 'gc.lock'));
    const l = await leases.acquire('pull y');
    const order: string[] = [];
    let finish!: () => void;
    const gc = leases.exclusive('gc', async () => {
      order.push('gc start');
      await new Promise<void>((r) => { finish = r; });
      order.push('gc end');
    });
    await new Promise((r) => setTimeout(r, 20));
    const adding = l.add({ content: [helloDigest] }).then(() => order.push('added'));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(order, ['gc start']);
    finish();
    await Promise.all([gc, adding]);
    assert.deepEqual(order, ['gc start', 'gc end', 'added']);
    await l.release();
  });
});

describe('gc', () => {
  /** Stores JSON "manifests" whose children are listed in them. */
  async function put(store: ContentStore, body: unknown): Promise<Digest> {
    const buf = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return ingest(store, `put-${digestOf(buf)}`, buf, { size: buf.length });
  }
  function childrenOf(store: ContentStore) {
    return async (d: Digest): Promise<Digest[]> => {
      const text = (await store.readAll(d)).toString();
      if (!text.startsWith('{')) return []; // a layer
      return (JSON.parse(text) as { children: Digest[] }).children;
    };
  }

  test('removes exactly the blobs unreachable from the roots (index → manifest → config + layers)', async () => {
    const store = await newStore();
    const shared = await put(store, 'layer shared');
    const l1 = await put(store, 'layer 1');
    const cfg1 = await put(store, 'config 1');
    const m1 = await put(store, { children: [cfg1, shared, l1] });
    const idx = await put(store, { children: [m1] });
    const l2 = await put(store, 'layer 2');
    const cfg2 = await put(store, 'config 2');
    const m2 = await put(store, { children: [cfg2, shared, l2] }); // untagged image
    const orphan = await put(store, 'orphan layer');

    const refs = new ImageRefs(join(store.root, 'refs.json'));
    await refs.tag('example.com/app:1', idx);
    const r = await collectGarbage(store, { roots: await refs.roots(), children: childrenOf(store) });
    assert.deepEqual(new Set(r.deleted), new Set([m2, cfg2, l2, orphan]));
    assert.deepEqual(new Set((await store.list()).map((i) => i.digest)), new Set([idx, m1, cfg1, shared, l1]));
    assert.equal(r.refCounts.get(shared), 1);
    assert.equal(r.refCounts.get(idx), 0);
    assert.ok(r.freedBytes > 0);

    // untag the last name: the image stays (dangling), so does its content
    await refs.untag('example.com/app:1');
    const kept = await collectGarbage(store, { roots: await refs.roots(), children: childrenOf(store) });
    assert.deepEqual(kept.deleted, []);
    // remove the image: everything goes
    assert.deepEqual(await refs.removeImage(idx), []);
    const r2 = await collectGarbage(store, { roots: await refs.roots(), children: childrenOf(store) });
    assert.equal(r2.deleted.length, 5);
    assert.deepEqual(await store.list(), []);
  });

  test('dryRun deletes nothing; gracePeriodMs keeps recently committed blobs', async () => {
    const store = await newStore();
    const orphan = await put(store, 'orphan');
    const dry = await collectGarbage(store, { roots: [], children: childrenOf(store), dryRun: true });
    assert.deepEqual(dry.deleted, [orphan]);
    assert.equal(await store.has(orphan), true);
    const graced = await collectGarbage(store, { roots: [], children: childrenOf(store), gracePeriodMs: 60_000 });
    assert.deepEqual(graced.deleted, []);
    assert.deepEqual(graced.kept, [{ digest: orphan, reason: 'recent' }]);
  });

  test('never deletes a blob a live writer is ingesting (its expected digest), nor the ingest', async () => {
    const store = await newStore();
    await put(store, hello.toString());
    const w = await store.writer('second-pull', { expectedDigest: helloDigest });
    await w.write(hello.subarray(0, 3));
    const r = await collectGarbage(store, { roots: [], children: childrenOf(store) });
    assert.deepEqual(r.deleted, []);
    assert.deepEqual(r.kept, [{ digest: helloDigest, reason: 'ingesting' }]);
    await w.write(hello.subarray(3));
    assert.equal(await w.commit(hello.length), helloDigest);
  });

  test('a root whose blob is missing is skipped; a failing children() aborts gc and deletes nothing', async () => {
    const store = await newStore();
    const orphan = await put(store, 'orphan');
    const m = await put(store, { children: [digestOf('not pulled yet')] });
    const r = await collectGarbage(store, { roots: [m, digestOf('absent root')], children: childrenOf(store) });
    assert.deepEqual(r.deleted, [orphan]);
    const other = await put(store, 'other orphan');
    await assert.rejects(
      collectGarbage(store, { roots: [m], children: async () => { throw new Error('manifest is not JSON'); } }),
      new RegExp(`gc: children of ${m}: manifest is not JSON; nothing deleted`),
    );
    assert.equal(await store.has(other), true);
  });
});
