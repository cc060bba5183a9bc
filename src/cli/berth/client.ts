/**
 * The berth CLI's Docker Engine API client: HTTP/1.1 over berthd's unix socket (node:http with
 * socketPath), as docker's Go client speaks it.
 *
 * - The API version is negotiated once through `/_ping` (its `API-Version` header): the lower of
 *   ours (1.41) and the daemon's, as docker's NegotiateAPIVersion does; paths go out as `/v1.NN/…`.
 * - A status >= 400 becomes a DaemonError carrying the status and the body's `message` (docker's
 *   error body); the CLI prints it as `Error response from daemon: MESSAGE`.
 * - JSON-lines progress streams (pull, push, load, import) call back per message; an in-stream
 *   `error` ends the stream as a StreamError (docker's jsonmessage.JSONError).
 * - stdcopy (the 8-byte-header multiplexed stream) is split back into stdout and stderr.
 * - attach and exec start hijack the connection (`Connection: Upgrade`, `Upgrade: tcp`): the
 *   raw socket is returned for both directions.
 */
import { request, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { JsonMessage } from '../../api/stream.ts';

/**
 * The lines of a streamed response body (JSON lines: pulls, events, stats) as they arrive, without
 * their newline; with `tail`, what follows the last newline too when the body ends.
 */
export async function* responseLines(res: IncomingMessage, opts: { tail?: boolean } = {}): AsyncGenerator<string> {
  let buf = '';
  res.setEncoding('utf8');
  for await (const chunk of res) {
    buf += chunk as string;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
    }
  }
  if (opts.tail) yield buf;
}

export const CLIENT_API_VERSION = '1.41';

/** An error answer of the daemon (status >= 400). */
export class DaemonError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** An error sent inside a JSON-lines stream after the 200 (docker's JSONError). */
export class StreamError extends Error {}

/** The daemon did not answer at all (no socket, refused, reset). */
export class ConnectError extends Error {
  constructor(readonly socketPath: string, readonly code: string | undefined, message: string) {
    super(message);
  }
}

/** docker's jsonmessage, the shape the API's progress streams carry */
export type { JsonMessage };

export type Query = Record<string, string | number | boolean | readonly string[] | undefined>;

export interface RequestOptions {
  query?: Query;
  /** a JSON body (serialised) or a stream sent as is */
  body?: unknown;
  stream?: Readable;
  headers?: OutgoingHttpHeaders;
}

function queryString(q: Query | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else p.append(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

async function readAll(res: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/** docker's message of an error answer: the body's `message`, else its text. */
function errorMessage(status: number, body: Buffer): string {
  const text = body.toString('utf8').trim();
  try {
    const doc = JSON.parse(text) as { message?: unknown };
    if (typeof doc.message === 'string') return doc.message;
  } catch {
    // not JSON: the text itself, as docker's client shows it
  }
  return text === '' ? `HTTP ${status}` : text;
}

export class Client {
  #version: string | undefined;

  constructor(readonly socketPath: string) {}

  /** The negotiated API version (after ping()). */
  get version(): string {
    return this.#version ?? CLIENT_API_VERSION;
  }

  #path(path: string, q?: Query): string {
    return `/v${this.version}${path}${queryString(q)}`;
  }

  /** Sends a request; the answer's head and body stream, whatever its status. */
  raw(method: string, path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers: OutgoingHttpHeaders = { ...opts.headers };
      let payload: Buffer | undefined;
      if (opts.body !== undefined) {
        payload = Buffer.from(JSON.stringify(opts.body));
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = payload.length;
      } else if (opts.stream) {
        headers['Content-Type'] ??= 'application/x-tar';
      }
      const req = request({ socketPath: this.socketPath, method, path: this.#path(path, opts.query), headers, host: 'berth' });
      req.on('response', resolve);
      req.on('error', (e: NodeJS.ErrnoException) => reject(connectError(this.socketPath, e)));
      if (payload) req.end(payload);
      else if (opts.stream) {
        opts.stream.on('error', (e) => req.destroy(e));
        opts.stream.pipe(req);
      } else req.end();
    });
  }

  /** A request whose error answers throw DaemonError; the answer otherwise. */
  async call(method: string, path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const res = await this.raw(method, path, opts);
    const status = res.statusCode ?? 0;
    if (status >= 400) throw new DaemonError(status, errorMessage(status, await readAll(res)));
    return res;
  }

  /** A request answered with JSON (or nothing: undefined). */
  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const body = await readAll(await this.call(method, path, opts));
    if (body.length === 0) return undefined as T;
    return JSON.parse(body.toString('utf8')) as T;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.json<T>('GET', path, { ...(query && { query }) });
  }

  post<T>(path: string, query?: Query, body?: unknown): Promise<T> {
    return this.json<T>('POST', path, { ...(query && { query }), ...(body !== undefined && { body }) });
  }

  /**
   * `/_ping`: the daemon's API version (the header) decides ours, as docker negotiates: the lower
   * of the two. Rejects with ConnectError when nothing answers.
   */
  async ping(): Promise<void> {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method: 'GET', path: '/_ping', host: 'berth' });
      req.on('response', resolve);
      req.on('error', (e: NodeJS.ErrnoException) => reject(connectError(this.socketPath, e)));
      req.end();
    });
    await readAll(res);
    const theirs = res.headers['api-version'];
    if (typeof theirs === 'string' && /^\d+\.\d+$/.test(theirs)) this.#version = lowerVersion(theirs, CLIENT_API_VERSION);
    else this.#version = CLIENT_API_VERSION;
  }

  /**
   * A JSON-lines stream: each message to `onMessage`; an in-stream error rejects with
   * StreamError once the stream ends there.
   */
  async jsonLines(method: string, path: string, opts: RequestOptions, onMessage: (m: JsonMessage) => void): Promise<void> {
    const res = await this.call(method, path, opts);
    let failure: string | undefined;
    const take = (line: string): void => {
      if (line.trim() === '') return;
      let m: JsonMessage;
      try {
        m = JSON.parse(line) as JsonMessage;
      } catch {
        return;
      }
      if (m.errorDetail || m.error) {
        failure ??= m.errorDetail?.message ?? m.error ?? 'unknown error';
        return;
      }
      onMessage(m);
    };
    for await (const line of responseLines(res, { tail: true })) take(line);
    if (failure !== undefined) throw new StreamError(failure);
  }

  /**
   * Hijacks the connection of `POST path` (attach, exec start): the raw socket once the daemon
   * answered 101 (or 200, as older daemons do), with what came after its headers pushed back.
   */
  hijack(path: string, opts: RequestOptions = {}): Promise<{ socket: Socket; contentType: string }> {
    return new Promise((resolve, reject) => {
      const headers: OutgoingHttpHeaders = { ...opts.headers, Connection: 'Upgrade', Upgrade: 'tcp' };
      let payload: Buffer | undefined;
      if (opts.body !== undefined) {
        payload = Buffer.from(JSON.stringify(opts.body));
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = payload.length;
      }
      const req = request({ socketPath: this.socketPath, method: 'POST', path: this.#path(path, opts.query), headers, host: 'berth' });
      req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
        if (head.length > 0) socket.unshift(head);
        resolve({ socket, contentType: String(res.headers['content-type'] ?? '') });
      });
      req.on('response', (res: IncomingMessage) => {
        void readAll(res).then((body) => {
          const status = res.statusCode ?? 0;
          reject(new DaemonError(status, status >= 400 ? errorMessage(status, body) : `${path}: the daemon did not take over the connection (HTTP ${status})`));
        }, reject);
      });
      req.on('error', (e: NodeJS.ErrnoException) => reject(connectError(this.socketPath, e)));
      req.end(payload);
    });
  }
}

function lowerVersion(a: string, b: string): string {
  const [am, an] = a.split('.').map(Number) as [number, number];
  const [bm, bn] = b.split('.').map(Number) as [number, number];
  return am < bm || (am === bm && an < bn) ? a : b;
}

function connectError(socketPath: string, e: NodeJS.ErrnoException): Error {
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' || e.code === 'EACCES' || e.code === 'ENOTSOCK') {
    const why = e.code === 'EACCES' ? 'permission denied' : e.code === 'ENOENT' ? 'no such socket' : e.code === 'ECONNREFUSED' ? 'connection refused' : e.message;
    return new ConnectError(socketPath, e.code, `Cannot connect to the berth daemon at unix://${socketPath} (${why}). Is berthd running?`);
  }
  return e;
}

/**
 * Splits docker's multiplexed stream (stdcopy: `[stream][0 0 0][u32 BE length][payload]`) into
 * stdout and stderr; resolves when the stream ends.
 */
export function demux(src: Readable, stdout: Writable, stderr: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    src.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 8) {
        const len = buf.readUInt32BE(4);
        if (buf.length < 8 + len) break;
        const kind = buf[0];
        const payload = buf.subarray(8, 8 + len);
        buf = buf.subarray(8 + len);
        if (kind === 2) stderr.write(payload);
        else if (kind === 1 || kind === 0) stdout.write(payload);
        else {
          src.destroy();
          reject(new Error(`unrecognized input header: ${kind}`));
          return;
        }
      }
    });
    src.once('end', () => resolve());
    src.once('close', () => resolve());
    src.once('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve() : reject(e)));
  });
}

/** Reads a whole answer body. */
export const readBody = readAll;
