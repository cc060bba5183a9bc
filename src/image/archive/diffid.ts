/**
 * The DiffID of a layer while its blob streams past: the sha256 of the tar inside, so a loader
 * can check a config's rootfs.diff_ids against layers it has not stored yet. The compression is
 * what the first bytes show (src/image/compression): a plain tar's DiffID is its digest (not
 * computed twice), a gzip or zstd one is decompressed on the side and hashed.
 */
import { PassThrough } from 'node:stream';
import { decompress, sniffCompression, SNIFF_BYTES, type Compression } from '../compression/index.ts';
import { Digester, type Digest } from '../store/digest.ts';

export type DiffIdResult =
  | { compression: 'none' }
  | { compression: Exclude<Compression, 'none'>; diffId: Digest }
  | { compression: Exclude<Compression, 'none'>; error: Error };

export class DiffIdDigester {
  #head: Buffer[] = [];
  #headLen = 0;
  #input: PassThrough | undefined;
  #compression: Compression | undefined;
  #consumer: Promise<Digest> | undefined;
  #error: Error | undefined;
  #out: import('node:stream').Readable | undefined;

  constructor(private readonly what: string) {}

  async update(chunk: Buffer): Promise<void> {
    if (this.#compression === undefined) {
      this.#head.push(chunk);
      this.#headLen += chunk.length;
      if (this.#headLen < SNIFF_BYTES) return;
      this.#start();
      return;
    }
    await this.#feed(chunk);
  }

  #start(): void {
    const head = Buffer.concat(this.#head);
    this.#head = [];
    this.#compression = sniffCompression(head) ?? 'none';
    if (this.#compression === 'none') return;
    const input = new PassThrough({ highWaterMark: 1 << 16 });
    this.#input = input;
    this.#consumer = (async () => {
      const d = new Digester();
      this.#out = await decompress(input, { what: this.what });
      for await (const c of this.#out) d.update(c as Buffer);
      return d.digest();
    })();
    // a corrupt stream: remember why, and stop feeding it
    this.#consumer.catch((e: Error) => {
      this.#error ??= e;
      input.destroy();
    });
    input.write(head);
  }

  async #feed(chunk: Buffer): Promise<void> {
    const input = this.#input;
    if (!input || this.#error || input.destroyed) return;
    if (!input.write(chunk)) {
      let done = (): void => undefined;
      const drained = new Promise<void>((r) => {
        done = () => {
          input.off('drain', done).off('close', done);
          r();
        };
        input.once('drain', done).once('close', done);
      });
      await Promise.race([drained, this.#consumer!.then(() => undefined, () => undefined)]);
      done();
    }
  }

  /** Call once the whole blob went through update(). */
  async finish(): Promise<DiffIdResult> {
    if (this.#compression === undefined) this.#start();
    const c = this.#compression!;
    if (c === 'none') return { compression: 'none' };
    this.#input!.end();
    try {
      return { compression: c, diffId: await this.#consumer! };
    } catch (e) {
      return { compression: c, error: this.#error ?? (e as Error) };
    }
  }

  /** Stops the side decompression (the blob was abandoned). */
  abort(): void {
    this.#input?.destroy();
    this.#out?.destroy(); // kills a zstd decoder
  }
}
