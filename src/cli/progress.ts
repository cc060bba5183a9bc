/**
 * docker's rendering of a daemon's JSON-lines progress (jsonmessage.DisplayJSONMessagesStream).
 * On a terminal: one line per layer id, redrawn in place with its bar,
 * `abc123def456: Downloading [=====>        ]  12.1MB/27.65MB`. Elsewhere (a pipe, a log): one
 * line per message, bars left out, as docker prints them without a TTY ("Pulling fs layer",
 * "Download complete", "Pull complete").
 */
import type { JsonMessage } from './berth/client.ts';
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

/** The bar of a message: from its numbers (the daemon's own text is used when it has none). */
function barOf(m: JsonMessage): string {
  const d = m.progressDetail;
  if (d && d.current !== undefined && d.total !== undefined && d.total > 0) return progressBar(d.current, d.total);
  if (d && d.current !== undefined && d.current > 0) return humanSize(d.current).padStart(8);
  return m.progress ?? '';
}

export class JsonMessageView {
  readonly #out: Output;
  readonly #tty: boolean;
  /** layer id → its line number among the tracked lines (docker's `ids`) */
  #ids = new Map<string, number>();

  constructor(out: Output, tty = out.isTTY === true) {
    this.#out = out;
    this.#tty = tty;
  }

  show(m: JsonMessage): void {
    const tracked = m.id !== undefined && m.id !== '' && m.progressDetail !== undefined;
    const bar = barOf(m);
    if (!this.#tty) {
      if (bar !== '') return; // docker: "disable progressbar in non-terminal"
      this.#out.write(this.#text(m, ''));
      return;
    }
    let diff = 0;
    if (tracked) {
      let line = this.#ids.get(m.id!);
      if (line === undefined) {
        line = this.#ids.size;
        this.#ids.set(m.id!, line);
        this.#out.write('\n');
      }
      diff = this.#ids.size - line;
      this.#out.write(`\x1b[${diff}A`);
    } else this.#ids = new Map();
    if (m.progressDetail !== undefined && m.stream === undefined) this.#out.write(`\x1b[2K\r${this.#text(m, bar, '\r')}`);
    else this.#out.write(this.#text(m, bar));
    if (tracked) this.#out.write(`\x1b[${diff}B`);
  }

  #text(m: JsonMessage, bar: string, endl = '\n'): string {
    if (m.stream !== undefined) return m.stream;
    const id = m.id !== undefined && m.id !== '' ? `${m.id}: ` : '';
    const status = m.status ?? '';
    return `${id}${bar !== '' ? `${status} ${bar}` : status}${endl}`;
  }
}
