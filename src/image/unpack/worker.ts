/**
 * applyLayer in worker threads. A layer is thousands of files written with synchronous calls;
 * on the main thread each blocking call stalls the downloads and the other layers, and one
 * thread cannot use a second core. In workers, layers are written in parallel, as separate
 * `tar -x` processes would, while the main thread keeps downloading and hashing.
 *
 * Workers run the program's own entry file (the CLI registers it with setUnpackWorkerEntry; the
 * entry calls runWorkerIfAny first thing). Without a registered entry (the library in tests, a
 * program that did not opt in) applyLayer runs in the calling thread, with the same results.
 *
 * A pool of at most one worker per core (a worker costs ~50 ms of start-up and its own heap);
 * idle workers are kept, unref'ed, for the next layer. A worker that failed a layer is ended.
 *
 * Protocol per layer: the main thread posts {job}, then {chunk}s (at most MAX_IN_FLIGHT not yet
 * taken, so a slow disk holds the download back instead of filling memory), then {end} or
 * {abort}; the worker answers {ack} per chunk taken and finally {done, diffId, stats} or
 * {error, name, message}.
 */
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

import { DecompressError } from '../compression/index.ts';
import type { Digest } from '../store/digest.ts';
import { TarError } from '../tar/index.ts';
import { UnpackError } from './errors.ts';
import type { ExtractStats } from './extract.ts';
import { applyLayer, type AppliedLayer, type ApplyOptions } from './layer.ts';

const ROLE = 'berth-unpack-layer';
const MAX_IN_FLIGHT = 8;

interface WorkerInput { role: typeof ROLE }
type ToWorker =
  | { type: 'job'; dest: string; opts: ApplyOptions }
  | { type: 'chunk'; chunk: Uint8Array }
  | { type: 'end' }
  | { type: 'abort'; message: string };
type FromWorker =
  | { type: 'ack' }
  | { type: 'done'; diffId: Digest; stats: ExtractStats }
  | { type: 'error'; name: string; message: string };

let entry: string | undefined;

/** Lets applyLayerAnywhere start workers from `file` (the program's entry; it must call runWorkerIfAny). */
export function setUnpackWorkerEntry(file: string | undefined): void {
  entry = file;
}

/** The worker pool: idle workers, how many exist, who waits for one. */
const pool = { idle: [] as Worker[], live: 0, waiting: [] as ((w: Worker) => void)[] };
const poolMax = (): number => Math.max(1, availableParallelism());
/** whether this thread is unpacking a layer itself (the overflow of a busy pool) */
let inThreadBusy = false;

function acquire(file: string): Promise<Worker> {
  const w = pool.idle.pop();
  if (w) {
    w.ref();
    return Promise.resolve(w);
  }
  if (pool.live < poolMax()) {
    pool.live++;
    const input: WorkerInput = { role: ROLE };
    return Promise.resolve(new Worker(file, { workerData: input, stdout: false, stderr: false }));
  }
  return new Promise((resolve) => pool.waiting.push(resolve));
}

function release(w: Worker, healthy: boolean): void {
  w.removeAllListeners('message').removeAllListeners('error').removeAllListeners('exit');
  if (!healthy) {
    pool.live--;
    void w.terminate();
    const next = pool.waiting.shift();
    if (next && entry !== undefined) void acquire(entry).then(next);
    return;
  }
  const next = pool.waiting.shift();
  if (next) return next(w);
  w.unref(); // an idle worker does not keep the program alive
  pool.idle.push(w);
}

function reviveError(name: string, message: string): Error {
  switch (name) {
    case 'UnpackError': return new UnpackError(message);
    case 'TarError': return new TarError(message);
    case 'DecompressError': return new DecompressError(message, message.includes(': zstd') ? 'zstd' : 'gzip');
    default: {
      const e = new Error(message);
      e.name = name;
      return e;
    }
  }
}

/** applyLayer, in a worker when an entry is registered, else here. */
export async function applyLayerAnywhere(raw: Readable, dest: string, opts: ApplyOptions): Promise<AppliedLayer> {
  if (entry === undefined) return applyLayer(raw, dest, opts);
  // Every worker busy: one more layer is unpacked by this thread rather than wait (the main
  // thread mostly waits on the network; a third layer waiting would stall its download).
  if (pool.idle.length === 0 && pool.live >= poolMax() && !inThreadBusy) {
    inThreadBusy = true;
    try {
      return await applyLayer(raw, dest, opts);
    } finally {
      inThreadBusy = false;
    }
  }
  const worker = await acquire(entry);
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let settled = false;
  let healthy = false;
  const result = new Promise<AppliedLayer>((resolve, reject) => {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'ack') {
        inFlight--;
      } else if (m.type === 'done') {
        settled = healthy = true;
        resolve({ diffId: m.diffId, stats: m.stats });
      } else {
        settled = true;
        reject(reviveError(m.name, m.message));
      }
      wake?.();
    });
    worker.on('error', (e) => {
      settled = true;
      reject(e);
      wake?.();
    });
    worker.on('exit', (code) => {
      if (!settled) {
        settled = true;
        reject(new UnpackError(`${opts.what}: the unpack worker exited with code ${code}`));
      }
      wake?.();
    });
  });
  result.catch(() => undefined); // awaited below
  try {
    worker.postMessage({ type: 'job', dest, opts } satisfies ToWorker);
    try {
      for await (const c of raw) {
        if (settled) break;
        const chunk = new Uint8Array(c as Uint8Array); // a copy that owns its memory: transferable
        worker.postMessage({ type: 'chunk', chunk } satisfies ToWorker, [chunk.buffer]);
        inFlight++;
        while (inFlight >= MAX_IN_FLIGHT && !settled) await new Promise<void>((r) => (wake = r));
      }
      if (!settled) worker.postMessage({ type: 'end' } satisfies ToWorker);
    } catch (e) {
      if (!settled) worker.postMessage({ type: 'abort', message: (e as Error).message } satisfies ToWorker);
      await result.catch(() => undefined);
      throw e;
    }
    return await result;
  } finally {
    raw.destroy();
    release(worker, healthy);
  }
}

/** In a worker started by applyLayerAnywhere: serves layers and returns true. Elsewhere: false. */
export function runWorkerIfAny(): boolean {
  const input = workerData as WorkerInput | undefined;
  if (isMainThread || parentPort === null || input?.role !== ROLE) return false;
  const port = parentPort;
  const queue: ToWorker[] = [];
  let wake: (() => void) | undefined;
  port.on('message', (m: ToWorker) => {
    queue.push(m);
    wake?.();
  });
  const next = async (): Promise<ToWorker> => {
    while (queue.length === 0) await new Promise<void>((r) => (wake = r));
    return queue.shift()!;
  };
  // each chunk taken from the queue is acknowledged: the credit the main thread waits for
  async function* chunks(): AsyncGenerator<Buffer> {
    for (;;) {
      const m = await next();
      if (m.type === 'end') return;
      if (m.type === 'abort') throw new Error(m.message);
      if (m.type !== 'chunk') throw new Error(`unpack worker: ${m.type} in the middle of a layer`);
      port.postMessage({ type: 'ack' } satisfies FromWorker);
      yield Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength);
    }
  }
  void (async () => {
    for (;;) {
      const job = await next();
      if (job.type !== 'job') continue; // the rest of a layer the main thread gave up on
      try {
        const r = await applyLayer(Readable.from(chunks(), { objectMode: false }), job.dest, job.opts);
        port.postMessage({ type: 'done', diffId: r.diffId, stats: r.stats } satisfies FromWorker);
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        port.postMessage({ type: 'error', name: err.name, message: err.message } satisfies FromWorker);
      }
    }
  })();
  return true;
}
