/**
 * A registry that stops sending (no response headers, or a body that stops mid-blob) would keep
 * a fetch waiting for as long as the kernel keeps the connection: one attempt is failed once no
 * byte came for the stall timeout, so the client's retry (and its message) happen. The timer
 * runs only while the client waits for the network: a slow consumer (an unpack applying
 * backpressure) is no stall.
 */

/** No byte from the registry for the stall timeout. */
export class StallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StallError';
  }
}

/** The default stall timeout, as the CLI's BERTH_REGISTRY_STALL_TIMEOUT / daemon.json default. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

/** `1.5` `30s` `500ms` `2m` → milliseconds (a bare number is seconds); undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  const ms = Math.round(Number(m[1]) * unit);
  return ms > 0 ? ms : undefined;
}

export const formatDuration = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/**
 * One attempt's watch: `signal` aborts the fetch (headers and body) once `arm()`ed for longer
 * than `ms` without `disarm()`. `error` says what stalled, as `describe()` tells it then.
 */
export class StallWatch {
  readonly #ac = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #error: StallError | undefined;
  readonly #onAbort: (() => void) | undefined;

  constructor(readonly ms: number, private readonly describe: () => string, private readonly outer?: AbortSignal) {
    if (outer) {
      this.#onAbort = () => this.#ac.abort(outer.reason);
      if (outer.aborted) this.#onAbort();
      else outer.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.#ac.signal;
  }

  /** set once the watch fired */
  get error(): StallError | undefined {
    return this.#error;
  }

  arm(): void {
    if (this.#timer !== undefined || this.#error) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#error = new StallError(`${this.describe()}: stalled: no data from the registry for ${formatDuration(this.ms)}`);
      this.#ac.abort(this.#error);
    }, this.ms);
  }

  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Ends the watch (the response is consumed or abandoned). */
  close(): void {
    this.disarm();
    if (this.outer && this.#onAbort) this.outer.removeEventListener('abort', this.#onAbort);
  }

  /** The error to report for `e`, thrown while this watch was on: the stall, if it fired. */
  explain(e: unknown): unknown {
    return this.#error ?? (this.outer?.aborted ? this.outer.reason : e);
  }

  /**
   * `body` read under the watch: the timer runs while a read waits for the registry; an error
   * after the watch fired is the stall. The watch is closed at the end of the body.
   */
  guard(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    const reader = body.getReader();
    return new ReadableStream<Uint8Array>({
      pull: async (c) => {
        this.arm();
        try {
          const r = await reader.read();
          this.disarm();
          if (r.done) {
            this.close();
            c.close();
          } else c.enqueue(r.value);
        } catch (e) {
          this.close();
          c.error(this.explain(e));
        }
      },
      cancel: async (reason) => {
        this.close();
        await reader.cancel(reason).catch(() => undefined);
      },
    }, { highWaterMark: 0 });
  }
}
