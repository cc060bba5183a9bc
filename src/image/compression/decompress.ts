/**
 * A layer blob as pulled (gzip, zstd or plain tar) → the tar stream it holds.
 *
 * gzip goes through Node's zlib. Node 20's zlib has no zstd, so zstd goes through the field's
 * own decoder: libzstd's CLI (`zstd -d -c -q`, Debian's zstd package) as a streaming child
 * process. Its default memory limit (128 MiB window) stays: a hostile frame asking for more is
 * refused by zstd rather than allocated.
 *
 * Contract of the stream returned:
 * - backpressure end to end: a slow reader pauses zstd's stdout, zstd blocks, stops reading
 *   its stdin, and the blob's reader pauses;
 * - it ends only after the decoder has finished cleanly (zstd exited 0); a corrupt or
 *   truncated stream errors with a DecompressError naming the blob and the decoder's reason;
 * - destroy() (or `signal`) stops everything: the blob reader is destroyed and zstd killed;
 *   its 'close' event comes only once the zstd process has exited, so a caller that awaits
 *   'close' leaves no process behind.
 */
import { spawn } from 'node:child_process';
import { Readable, addAbortSignal } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SNIFF_BYTES, declaredCompression, sniffCompression, type Compression } from './detect.ts';
import { DecompressError } from './errors.ts';

/** Debian's zstd CLI (scripts/setup.sh installs it); absolute, as berth runs as root. */
export const ZSTD_BIN = '/usr/bin/zstd';

/** How much of zstd's stderr is kept for the error message. */
const MAX_STDERR = 4096;

export interface DecompressOptions {
  /** names the stream in errors: `layer sha256:…` */
  what: string;
  /** the descriptor's media type: its declared compression is used when the first bytes show none */
  mediaType?: string;
  /** aborting destroys the stream (and kills zstd) */
  signal?: AbortSignal;
}

/**
 * The decompressed stream of `source`. The compression is the one the first bytes show (gzip
 * 1f8b, zstd 28b52ffd); bytes without a magic are taken as the media type declares (plain tar
 * for `…tar`). The magic wins over the media type, as docker and containerd do: mislabelled
 * layers exist, and the caller verifies the DiffID of what comes out anyway.
 */
export async function decompress(source: Readable, opts: DecompressOptions): Promise<Readable> {
  opts.signal?.throwIfAborted();
  // One listener from the start: the blob's reader reads ahead while paused, so it may fail
  // between the sniffing and the decoder being wired up.
  let failure: Error | undefined;
  let onFailure: ((e: Error) => void) | undefined;
  source.on('error', (e: Error) => {
    failure ??= e;
    onFailure?.(e);
  });
  const sourceError: OnSourceError = (fn) => {
    if (failure) queueMicrotask(() => fn(failure!));
    else onFailure = fn;
  };
  const { head, rest } = await peek(source, SNIFF_BYTES, opts.what, sourceError);
  const compression = sniffCompression(head) ?? declaredCompression(opts.mediaType);
  const watch: OnSourceError = rest === source ? sourceError : (fn) => rest.once('error', fn);
  const out = compression === 'zstd' ? zstd(rest, opts.what, watch) : compression === 'gzip' ? gunzip(rest, opts.what, watch) : plain(rest, opts.what, watch);
  if (opts.signal) addAbortSignal(opts.signal, out);
  return out;
}

/** Resolves when `s` has emitted 'close' (at once if it has). */
export function whenClosed(s: Readable): Promise<void> {
  return new Promise((resolve) => (s.closed ? resolve() : s.once('close', () => resolve())));
}

/** Registers the one handler of the blob reader's error (called at once if it has failed already). */
type OnSourceError = (fn: (e: Error) => void) => void;

/**
 * Reads at least `n` bytes of `source` (fewer if it ends first) and puts them back: `rest` is
 * the whole stream again (`source` itself, or a stand-in when it has already ended).
 */
async function peek(source: Readable, n: number, what: string, onError: OnSourceError): Promise<{ head: Buffer; rest: Readable }> {
  const parts: Buffer[] = [];
  let len = 0;
  const ended = await new Promise<boolean>((resolve, reject) => {
    const done = (): void => {
      source.off('data', onData).off('end', onEnd).off('close', onClose);
      source.pause();
    };
    const onData = (c: Buffer): void => {
      parts.push(c);
      len += c.length;
      if (len >= n) {
        done();
        resolve(false);
      }
    };
    const onEnd = (): void => {
      done();
      resolve(true);
    };
    const onClose = (): void => {
      done();
      reject(new DecompressError(`${what}: the blob's stream closed before its end`, 'none'));
    };
    onError((e) => {
      done();
      reject(new DecompressError(`${what}: reading the blob: ${e.message}`, 'none', { cause: e }));
    });
    source.on('data', onData).on('end', onEnd).on('close', onClose);
  });
  const head = Buffer.concat(parts);
  // A short blob may have ended right after its one chunk ('end' emitted after we stopped
  // listening): nothing is left in it, so the stand-in holds the whole blob.
  if (ended || source.readableEnded) return { head, rest: Readable.from(head.length > 0 ? [head] : []) };
  source.unshift(head);
  return { head, rest: source };
}

type Finish = () => Promise<void>;

/**
 * A Readable relaying `inner`'s chunks with backpressure. It ends when `inner` has ended and
 * `finish()` resolved; `inner`'s errors go through `label`; destroy() runs `teardown` and
 * completes (so 'close' fires) only once it has.
 */
function relay(inner: Readable, label: (e: Error) => Error, finish: Finish, teardown: Finish): Readable {
  let failed = false;
  const out = new Readable({
    highWaterMark: 1 << 16,
    read() {
      inner.resume();
    },
    destroy(err, cb) {
      teardown().then(() => cb(err), (e2: unknown) => cb(err ?? (e2 as Error)));
    },
  });
  inner.on('data', (c: Buffer) => {
    if (!out.push(c)) inner.pause();
  });
  inner.pause();
  inner.once('end', () => {
    finish().then(() => { if (!failed) out.push(null); }, (e: unknown) => out.destroy(e as Error));
  });
  inner.once('error', (e: Error) => {
    failed = true;
    out.destroy(label(e));
  });
  return out;
}

function plain(source: Readable, what: string, onSourceError: OnSourceError): Readable {
  const label = (e: Error): DecompressError => new DecompressError(`${what}: reading the blob: ${e.message}`, 'none', { cause: e });
  const out = relay(source, label, async () => undefined, async () => {
    source.destroy();
  });
  onSourceError((e) => out.destroy(label(e)));
  return out;
}

function gunzip(source: Readable, what: string, onSourceError: OnSourceError): Readable {
  // 256 KiB output chunks: the default 16 KiB costs a main-thread callback per 16 KiB of a layer
  const z = createGunzip({ chunkSize: 256 << 10 });
  const out = relay(z, (e) => new DecompressError(`${what}: gzip: ${e.message}`, 'gzip', { cause: e }), async () => undefined, async () => {
    source.unpipe(z);
    source.destroy();
    z.destroy();
  });
  onSourceError((e) => out.destroy(new DecompressError(`${what}: reading the blob: ${e.message}`, 'gzip', { cause: e })));
  source.pipe(z);
  return out;
}

/** zstd's message without its `/*stdin*\ :` prefix and with its ` : ` tightened: `Decoding error (36): Corrupted block detected`. */
export function zstdReason(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const last = lines.at(-1) ?? '';
  return last.replace(/^(zstd:\s*)?\/\*stdin\*\\\s*:\s*/, '').replace(/\s+:\s+/g, ': ').trim();
}

function zstd(source: Readable, what: string, onSourceError: OnSourceError): Readable {
  const fail = (msg: string, cause?: unknown): DecompressError =>
    new DecompressError(`${what}: zstd: ${msg}`, 'zstd', cause === undefined ? undefined : { cause });
  const child = spawn(ZSTD_BIN, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let spawnError: Error | undefined;
  // 'close' also waits for the pipes; 'error' alone when zstd could not be started at all.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.once('error', (e) => {
      spawnError = e;
      resolve({ code: null, signal: null });
    });
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    if (stderr.length < MAX_STDERR) stderr += s;
  });
  // zstd quitting early (corrupt data) makes our writes fail with EPIPE: its exit status says why.
  child.stdin.on('error', () => undefined);
  const running = (): boolean => child.exitCode === null && child.signalCode === null && spawnError === undefined && child.pid !== undefined;

  const finish = async (): Promise<void> => {
    const { code, signal } = await exited;
    if (spawnError) throw fail(`cannot run ${ZSTD_BIN}: ${spawnError.message} (install Debian's zstd package)`, spawnError);
    if (signal !== null) throw fail(`killed by ${signal}`);
    if (code !== 0) throw fail(zstdReason(stderr) || `exited with status ${code}`);
  };
  const teardown = async (): Promise<void> => {
    source.unpipe(child.stdin);
    source.destroy();
    child.stdin.destroy();
    child.stdout.destroy();
    if (running()) child.kill('SIGKILL');
    await exited;
  };
  const out = relay(child.stdout, (e) => fail(e.message, e), finish, teardown);
  child.once('error', (e) => out.destroy(fail(`cannot run ${ZSTD_BIN}: ${e.message} (install Debian's zstd package)`, e)));
  onSourceError((e) => out.destroy(new DecompressError(`${what}: reading the blob: ${e.message}`, 'zstd', { cause: e })));
  source.pipe(child.stdin);
  return out;
}

export type { Compression };
