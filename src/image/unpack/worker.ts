/**
 * applyLayer in a worker thread. A layer is thousands of files written with synchronous calls;
 * on the main thread each blocking call stalls the downloads and the other layers, and one
 * thread cannot use the second core. In a worker per layer, the layers' writes overlap as
 * separate `tar -x` processes would, while the main thread keeps downloading and hashing.
 *
 * Workers run the program's own entry file (the CLI registers it with setUnpackWorkerEntry; the
 * entry calls runWorkerIfAny first thing). Without a registered entry (the library in tests, a
 * program that did not opt in) applyLayer runs in the calling thread, with the same results.
 *
 * Protocol: the main thread posts {chunk} messages (at most MAX_IN_FLIGHT unacknowledged, so a
 * slow disk holds the download back instead of filling memory), then {end} or {abort}; the
 * worker answers {ack} per chunk and finally {done, diffId, stats} or {error, name, message}.
 */
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

interface WorkerInput { role: typeof ROLE; dest: string; opts: ApplyOptions }
type ToWorker = { type: 'chunk'; chunk: Uint8Array } | { type: 'end' } | { type: 'abort'; message: string };
type FromWorker =
  | { type: 'ack' }
  | { type: 'done'; diffId: Digest; stats: ExtractStats }
  | { type: 'error'; name: string; message: string };

let entry: string | undefined;

/** Lets applyLayerAnywhere start workers from `file` (the program's entry; it must call runWorkerIfAny). */
export function setUnpackWorkerEntry(file: string | undefined): void {
  entry = file;
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
  const input: WorkerInput = { role: ROLE, dest, opts };
  const worker = new Worker(entry, { workerData: input, stdout: false, stderr: false });
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let settled = false;
  const result = new Promise<AppliedLayer>((resolve, reject) => {
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'ack') {
        inFlight--;
        wake?.();
      } else if (m.type === 'done') {
        settled = true;
        resolve({ diffId: m.diffId, stats: m.stats });
      } else {
        settled = true;
        reject(reviveError(m.name, m.message));
      }
      if (settled) wake?.();
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
    await worker.terminate();
    throw e;
  }
  try {
    return await result;
  } finally {
    raw.destroy();
    await worker.terminate();
  }
}

/** In a worker started by applyLayerAnywhere: runs it and returns true. Elsewhere: false. */
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
  // each chunk taken from the queue is acknowledged: the credit the main thread waits for
  async function* chunks(): AsyncGenerator<Buffer> {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      const m = queue.shift()!;
      if (m.type === 'end') return;
      if (m.type === 'abort') throw new Error(m.message);
      port.postMessage({ type: 'ack' } satisfies FromWorker);
      yield Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength);
    }
  }
  applyLayer(Readable.from(chunks(), { objectMode: false }), input.dest, input.opts).then(
    (r) => port.postMessage({ type: 'done', diffId: r.diffId, stats: r.stats } satisfies FromWorker),
    (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      port.postMessage({ type: 'error', name: err.name, message: err.message } satisfies FromWorker);
    },
  ).finally(() => port.close());
  return true;
}
