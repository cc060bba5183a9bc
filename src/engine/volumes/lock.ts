/**
 * Per-key async mutual exclusion: the volume service serialises every change to one volume
 * (create, a container's reference, copy-up, remove) so that two container creates sharing a new
 * named volume cannot both copy into it, and remove cannot race a new reference. Different
 * volumes never wait for each other.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  async with<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => { release = r; });
    const tail = prev.then(() => mine);
    this.#tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
