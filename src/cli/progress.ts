/**
 * docker pull's per-layer lines. On a terminal: one line per layer, redrawn in place (at most
 * every 100 ms) with docker's bar, `abc123def456: Downloading [=====>        ]  12.1MB/27.65MB`.
 * Elsewhere (a pipe, a log): one line per change of state, as docker prints them without a TTY
 * ("Pulling fs layer", "Download complete", "Pull complete").
 */
import type { LayerProgress } from '../image/pull.ts';
import { digestHex, type Digest } from '../image/store/digest.ts';
import type { Output } from './berth/command.ts';
import { humanSize } from './units.ts';

const BAR_WIDTH = 50;

/** docker's progress bar: `[=====>      ]  12.1MB/27.65MB` */
export function progressBar(current: number, total: number): string {
  const frac = total > 0 ? Math.min(1, current / total) : 0;
  const filled = Math.floor(frac * BAR_WIDTH);
  const bar = filled >= BAR_WIDTH ? '='.repeat(BAR_WIDTH) : `${'='.repeat(filled)}>${' '.repeat(BAR_WIDTH - filled - 1)}`;
  return `[${bar}] ${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

function statusText(p: LayerProgress, tty: boolean): string {
  switch (p.phase) {
    case 'waiting': return 'Pulling fs layer';
    case 'exists': return 'Already exists';
    case 'downloading': return tty && p.current !== undefined ? `Downloading ${progressBar(p.current, p.total)}` : 'Pulling fs layer';
    case 'downloaded': return tty ? 'Extracting' : 'Download complete';
    case 'extracting': return 'Extracting';
    case 'complete': return 'Pull complete';
  }
}

export class PullProgressView {
  readonly #out: Output;
  readonly #tty: boolean;
  /** layer id → its line, in the order first seen */
  readonly #lines = new Map<string, string>();
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(out: Output) {
    this.#out = out;
    this.#tty = out.isTTY === true;
  }

  /** `3layer: Pulling from bench/debian` */
  header(tagOrDigest: string, repoPath: string): void {
    this.#out.write(`${tagOrDigest}: Pulling from ${repoPath}\n`);
  }

  update(p: LayerProgress): void {
    const id = digestHex(p.digest as Digest).slice(0, 12);
    // a layer that finished is not sent back to "downloaded" by a late event
    const prev = this.#lines.get(id);
    if (prev === 'Pull complete' || prev === 'Already exists') return;
    const text = statusText(p, this.#tty);
    if (prev === text) return;
    this.#lines.set(id, text);
    if (!this.#tty) {
      this.#out.write(`${id}: ${text}\n`);
      return;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#draw();
    }, 100);
  }

  /** Draws the final state (call before printing the summary lines). */
  finish(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#tty) this.#draw();
  }

  #draw(): void {
    let s = this.#drawn > 0 ? `\x1b[${this.#drawn}A` : '';
    for (const [id, text] of this.#lines) s += `\x1b[2K${id}: ${text}\n`;
    this.#drawn = this.#lines.size;
    this.#out.write(s);
  }
}
