/**
 * Exact-length reads over an async stream of arbitrarily split chunks, with
 * the absolute offset of what has been consumed (for error messages).
 */
export class ByteReader {
  private readonly it: AsyncIterator<Buffer>;
  private head: Buffer = Buffer.alloc(0);
  private ended = false;
  /** Bytes consumed so far. */
  offset = 0;

  constructor(source: AsyncIterable<Buffer | Uint8Array>) {
    this.it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** Make `head` non-empty; false at the end of the source. */
  private async fill(): Promise<boolean> {
    while (this.head.length === 0) {
      if (this.ended) return false;
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        return false;
      }
      const v = r.value as unknown;
      this.head = Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v) : Buffer.from(v as Uint8Array);
    }
    return true;
  }

  /** Exactly `n` bytes; fewer only at the end of the source (caller decides if that is an error). */
  async read(n: number): Promise<Buffer> {
    if (this.head.length >= n || (await this.fill() && this.head.length >= n)) {
      const out = this.head.subarray(0, n);
      this.head = this.head.subarray(n);
      this.offset += n;
      return out;
    }
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n && (await this.fill())) {
      const take = Math.min(n - got, this.head.length);
      parts.push(this.head.subarray(0, take));
      this.head = this.head.subarray(take);
      got += take;
      this.offset += take;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, got);
  }

  /** Up to `n` bytes in the pieces they arrived in; stops early only at the end of the source. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0 && (await this.fill())) {
      const take = Math.min(left, this.head.length);
      const piece = this.head.subarray(0, take);
      this.head = this.head.subarray(take);
      this.offset += take;
      left -= take;
      yield piece;
    }
  }

  /** Skip `n` bytes; returns how many were skipped (fewer only at the end). */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0 && (await this.fill())) {
      const take = Math.min(left, this.head.length);
      this.head = this.head.subarray(take);
      this.offset += take;
      left -= take;
    }
    return n - left;
  }

  /** Consume the rest of the source (so a digest-verifying tee upstream sees all of it). */
  async drain(): Promise<void> {
    this.head = Buffer.alloc(0);
    while (!this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
    }
  }

  /** Stop the source early (error paths). */
  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      await this.it.return?.();
    }
  }
}
