/**
 * Content digests: the `Digest` type (`sha256:<64 lowercase hex>`, the only algorithm berth
 * stores), parsing untrusted strings into it once at the edge, and sha256 hashing of buffers,
 * streams and files. A `Digester` hashes while bytes stream through and can report the digest
 * so far without finishing (a resumed ingest re-hashes its partial file into one).
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { InvalidDigestError } from './errors.ts';

declare const digestBrand: unique symbol;
/** A validated sha256 content digest, e.g. `sha256:e3b0c442…b855`; made only by parseDigest/digestOf/Digester. */
export type Digest = `sha256:${string}` & { readonly [digestBrand]: true };

export const ALGORITHM = 'sha256';
const HEX_RE = /^[0-9a-f]{64}$/;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/** Whether `s` is a well-formed sha256 digest. */
export function isDigest(s: unknown): s is Digest {
  return typeof s === 'string' && DIGEST_RE.test(s);
}

/**
 * Validates `s` as a digest. `where` names the source in the error
 * (`manifest layers[2].digest: invalid digest "sha256:AB": …`).
 */
export function parseDigest(s: unknown, where = 'digest'): Digest {
  if (typeof s !== 'string') throw new InvalidDigestError(`${where}: expected a digest string, got ${typeof s}`);
  if (isDigest(s)) return s;
  const shown = JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}…` : s);
  const colon = s.indexOf(':');
  if (colon < 0) throw new InvalidDigestError(`${where}: invalid digest ${shown}: missing "algorithm:" prefix (want sha256:<64 hex>)`);
  const alg = s.slice(0, colon);
  const hex = s.slice(colon + 1);
  if (alg !== ALGORITHM) throw new InvalidDigestError(`${where}: invalid digest ${shown}: unsupported algorithm "${alg}" (only sha256)`);
  if (hex.length !== 64) throw new InvalidDigestError(`${where}: invalid digest ${shown}: ${hex.length} hex digits, want 64`);
  throw new InvalidDigestError(`${where}: invalid digest ${shown}: not lowercase hex`);
}

/** The 64-hex part of a digest (the blob's file name). */
export function digestHex(d: Digest): string {
  return d.slice(ALGORITHM.length + 1);
}

/** The digest with hex `hex` (validated). */
export function digestFromHex(hex: string): Digest {
  if (!HEX_RE.test(hex)) throw new InvalidDigestError(`invalid sha256 hex ${JSON.stringify(hex)}`);
  return `${ALGORITHM}:${hex}` as Digest;
}

/** Short form for messages: `sha256:0123456789ab`. */
export function shortDigest(d: Digest): string {
  return d.slice(0, ALGORITHM.length + 1 + 12);
}

/** sha256 of in-memory bytes or a string (UTF-8). */
export function digestOf(data: Uint8Array | string): Digest {
  return `${ALGORITHM}:${createHash(ALGORITHM).update(data).digest('hex')}` as Digest;
}

/** Incremental sha256 that also counts bytes; `digest()` can be called at any time. */
export class Digester {
  #hash: Hash = createHash(ALGORITHM);
  #size = 0;

  update(chunk: Uint8Array): this {
    this.#hash.update(chunk);
    this.#size += chunk.byteLength;
    return this;
  }

  /** Bytes hashed so far. */
  get size(): number {
    return this.#size;
  }

  /** Digest of the bytes so far; the digester stays usable. */
  digest(): Digest {
    return `${ALGORITHM}:${this.#hash.copy().digest('hex')}` as Digest;
  }

  /** Hashes the first `limit` bytes of `path` (all of it if omitted) into this digester. */
  async updateFromFile(path: string, limit?: number): Promise<this> {
    if (limit === 0) return this;
    const stream = createReadStream(path, limit === undefined ? {} : { end: limit - 1 });
    for await (const chunk of stream) this.update(chunk as Buffer);
    return this;
  }
}

/** sha256 and size of a stream, consumed to its end. */
export async function digestStream(source: AsyncIterable<Uint8Array>): Promise<{ digest: Digest; size: number }> {
  const d = new Digester();
  for await (const chunk of source) d.update(chunk);
  return { digest: d.digest(), size: d.size };
}

/** sha256 and size of a file. */
export async function digestFile(path: string): Promise<{ digest: Digest; size: number }> {
  const d = await new Digester().updateFromFile(path);
  return { digest: d.digest(), size: d.size };
}
