/**
 * docker's detach keys (ctrl-p,ctrl-q by default, `--detach-keys`): the daemon watches what a
 * client types into a TTY for the sequence and ends that client's stream, leaving the process
 * running. Shared by attach and exec.
 */
import { InvalidParameterError } from '../errors.ts';

/**
 * docker's term.ToBytes: `ctrl-p,ctrl-q` → [0x10, 0x11]; a key is `ctrl-<a-z@[\]^_>` or one
 * character. Empty is docker's default.
 */
export function parseDetachKeys(keys: string): Buffer {
  if (keys === '') return Buffer.from([0x10, 0x11]);
  const out: number[] = [];
  for (const k of keys.split(',')) {
    const low = k.toLowerCase();
    if (low.startsWith('ctrl-') && low.length === 6) {
      const c = low.charCodeAt(5);
      if (c >= 0x61 && c <= 0x7a) out.push(c - 0x60);
      else if ('@[\\]^_'.includes(low[5]!)) out.push(c === 0x40 ? 0 : c - 0x40);
      else throw new InvalidParameterError(`DetachKeys: invalid key ${JSON.stringify(k)}: want ctrl-[a-z@[\\]^_] or one character`);
    } else if (k.length === 1) out.push(k.charCodeAt(0));
    else throw new InvalidParameterError(`DetachKeys: invalid key ${JSON.stringify(k)}: want ctrl-[a-z@[\\]^_] or one character`);
  }
  return Buffer.from(out);
}

/**
 * Watches typed bytes for the detach sequence (docker's escape proxy): the bytes of a partial
 * match are held back, and given back if the sequence breaks.
 */
export class DetachScanner {
  #matched = 0;
  constructor(private readonly keys: Buffer) {}

  /** the bytes to pass on, and whether the sequence completed (what follows it is dropped) */
  feed(d: Buffer): { pass: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const b of d) {
      if (b === this.keys[this.#matched]) {
        this.#matched++;
        if (this.#matched === this.keys.length) return { pass: Buffer.from(out), detach: true };
        continue;
      }
      for (let i = 0; i < this.#matched; i++) out.push(this.keys[i]!);
      this.#matched = 0;
      if (b === this.keys[0]) this.#matched = 1;
      else out.push(b);
    }
    return { pass: Buffer.from(out), detach: false };
  }
}
