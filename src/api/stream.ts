/**
 * The streams of the Engine API, as docker frames them:
 * - stdcopy: a non-TTY container's stdout/stderr multiplexed on one stream, each chunk behind an
 *   8-byte header `[stream: 0 stdin, 1 stdout, 2 stderr][0 0 0][uint32 BE payload length]`;
 * - the hijack: attach and exec start take over the connection after `Upgrade: tcp` (Node's
 *   'upgrade' event hands us the socket), answered `HTTP/1.1 101 UPGRADED` as dockerd does, and
 *   the socket then carries raw bytes both ways;
 * - JSON lines: pull, push, load and import report progress as docker's jsonmessage objects,
 *   one per line; an error once the stream started is a message with `errorDetail`.
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export type StdStream = typeof STDIN | typeof STDOUT | typeof STDERR;

/** One stdcopy frame: the 8-byte header and `payload`. */
export function stdFrame(stream: StdStream, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** docker's content types of a hijacked stream: raw for a TTY, multiplexed otherwise. */
export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

/**
 * Takes over an upgraded connection (`Upgrade: tcp`): writes dockerd's 101 answer and returns the
 * socket, with the bytes the client sent after its headers (`head`) put back in front.
 */
export function hijack(socket: Duplex, head: Buffer, contentType: string = RAW_STREAM): Duplex {
  socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
  if (head.length > 0) socket.unshift(head);
  return socket;
}

/** docker's jsonmessage.JSONMessage (the fields berth sends). */
export interface JsonMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  stream?: string;
  aux?: unknown;
  errorDetail?: { message: string; code?: number };
  error?: string;
}

/**
 * A registry attempt that failed and is tried again, as a status line of a pull or push stream
 * (docker sends its retries as status lines too: `Retrying in 5 seconds`). berth's CLI shows
 * the statuses this matches on stderr, as diagnostics, the others with the progress.
 */
export const RETRY_STATUS = /; retrying \(attempt \d+ of \d+\)$/;

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** go-units HumanSize: decimal units, 4 significant digits (`12.1MB`). */
export function humanSize(n: number): string {
  let s = n;
  let i = 0;
  while (s >= 1000 && i < UNITS.length - 1) {
    s /= 1000;
    i++;
  }
  return `${Number(s.toPrecision(4))}${UNITS[i]}`;
}

/** jsonmessage's progress text: `[=====>       ]  12.1MB/27.65MB` (50 columns of bar). */
export function progressText(current: number, total: number): string {
  const width = 50;
  if (total <= 0) return humanSize(current).padStart(8);
  const filled = Math.min(width, Math.floor((current / total) * width));
  const bar = filled >= width ? '='.repeat(width) : `${'='.repeat(filled)}>${' '.repeat(width - filled - 1)}`;
  return `[${bar}] ${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

/**
 * JSON-lines progress on an HTTP answer. The 200 and its headers go out with the first message,
 * so a route can still fail with a proper status (404, 401) until it has said something.
 */
export class JsonLines {
  readonly #res: ServerResponse;

  constructor(res: ServerResponse) {
    this.#res = res;
  }

  /** true once the 200 is sent: from then on errors go in the stream */
  get started(): boolean {
    return this.#res.headersSent;
  }

  write(m: JsonMessage): void {
    if (!this.#res.headersSent) this.#res.writeHead(200, { 'Content-Type': 'application/json' });
    if (!this.#res.writableEnded && !this.#res.destroyed) this.#res.write(`${JSON.stringify(m)}\n`);
  }

  status(status: string, id?: string): void {
    this.write({ status, ...(id !== undefined && { id }) });
  }

  /** a layer's state change: `{"status":"Pull complete","progressDetail":{},"id":"…"}` */
  layer(id: string, status: string, current?: number, total?: number): void {
    if (current !== undefined && total !== undefined) {
      this.write({ status, progressDetail: { current, total }, progress: progressText(current, total), id });
    } else this.write({ status, progressDetail: {}, id });
  }

  /** docker's in-stream failure: the client prints `message` and exits 1 */
  error(message: string): void {
    this.write({ errorDetail: { message }, error: message });
  }

  end(): void {
    if (!this.#res.headersSent) this.#res.writeHead(200, { 'Content-Type': 'application/json' });
    this.#res.end();
  }
}
