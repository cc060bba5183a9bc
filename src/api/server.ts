/**
 * berthd's Docker Engine API server: HTTP/1.1 over a unix socket (node:http), docker's paths,
 * version prefix, headers, status codes and error bodies.
 *
 * - `/v1.NN/path` and `/path` reach the same route; NN above 1.41 is a 400 with dockerd's
 *   message, below 1.12 too (the oldest version docker 20.10 still serves).
 * - Every answer carries `Api-Version`, `Docker-Experimental`, `Ostype` and `Server`.
 * - A route's error goes through errors.ts (the one kind → status map); an unknown route is
 *   docker's 404 `{"message":"page not found"}`.
 * - `Upgrade: tcp` requests arrive on Node's 'upgrade' event and go to the route's hijack
 *   handler with the raw socket (stream.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmod, chown, readFile, rm } from 'node:fs/promises';
import type { Duplex } from 'node:stream';

import type { Engine } from '../engine/engine.ts';
import type { Logger } from '../engine/log.ts';
import { BERTH_VERSION } from '../engine/version.ts';
import { errorAnswer } from './errors.ts';
import { sendJson } from './http.ts';
import { Router, type Match } from './router.ts';
import { archiveRoutes } from './router/archive.ts';
import { containerRoutes } from './router/containers.ts';
import { explainRoutes } from './router/explain.ts';
import { diskRoutes } from './router/df.ts';
import { eventRoutes } from './router/events.ts';
import { statsRoutes } from './router/stats.ts';
import { execRoutes } from './router/exec.ts';
import { imageRoutes } from './router/images.ts';
import { networkRoutes } from './router/networks.ts';
import { systemRoutes } from './router/system.ts';
import { volumeRoutes } from './router/volumes.ts';
import { API_VERSION, MIN_API_VERSION } from './version.ts';

export { API_VERSION, MIN_API_VERSION };

export const SERVER_HEADER = `berth/${BERTH_VERSION} (linux)`;

/** The routes of every resource, in the order they are tried. */
const RESOURCES: readonly ((r: Router, engine: Engine) => void)[] = [
  systemRoutes, imageRoutes, execRoutes, containerRoutes, explainRoutes, volumeRoutes, networkRoutes, eventRoutes, statsRoutes, diskRoutes, archiveRoutes,
];

const COMMON_HEADERS: Record<string, string> = {
  'Api-Version': API_VERSION,
  'Docker-Experimental': 'false',
  Ostype: 'linux',
  Server: SERVER_HEADER,
};

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

interface Target {
  path: string;
  query: URLSearchParams;
  apiVersion: string;
}

class RequestError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The unversioned path, the query and the API version of a request URL (docker's version middleware). */
export function parseTarget(rawUrl: string): Target {
  const url = new URL(rawUrl, 'http://berth');
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    throw new RequestError(400, `malformed request path ${JSON.stringify(url.pathname)}`);
  }
  let apiVersion = API_VERSION;
  const m = /^\/v([0-9][0-9.]*)(\/.*)$/.exec(path);
  if (m) {
    apiVersion = m[1]!;
    path = m[2]!;
    if (compareVersions(apiVersion, API_VERSION) > 0) {
      throw new RequestError(400, `client version ${apiVersion} is too new. Maximum supported API version is ${API_VERSION}`);
    }
    if (compareVersions(apiVersion, MIN_API_VERSION) < 0) {
      throw new RequestError(400, `client version ${apiVersion} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
    }
  }
  return { path, query: url.searchParams, apiVersion };
}

/** An HTTP answer written straight onto a socket (a request that arrived as an upgrade). */
function rawAnswer(socket: Duplex, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  const reason = status === 404 ? 'Not Found' : status === 400 ? 'Bad Request' : status === 500 ? 'Internal Server Error' : 'Error';
  const headers = Object.entries({ ...COMMON_HEADERS, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)), Connection: 'close' })
    .map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(`HTTP/1.1 ${status} ${reason}\r\n${headers}\r\n${text}`);
}

export class ApiServer {
  readonly router = new Router();
  readonly #server: Server;
  readonly #log: Logger;
  /** hijacked connections: Node no longer tracks them, close() must */
  readonly #hijacked = new Set<Duplex>();
  #socketPath: string | undefined;

  constructor(readonly engine: Engine, log: Logger) {
    this.#log = log;
    for (const add of RESOURCES) add(this.router, engine);
    this.#server = createServer((req, res) => void this.#onRequest(req, res));
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.#onUpgrade(req, socket, head));
    this.#server.on('clientError', (e, socket) => {
      this.#log.debug(`client error: ${e.message}`);
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  #route(req: IncomingMessage): { target: Target; match: Match | undefined } {
    const target = parseTarget(req.url ?? '/');
    this.#log.debug(`Calling ${req.method} ${req.url}`);
    return { target, match: this.router.match(req.method ?? 'GET', target.path) };
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(COMMON_HEADERS)) res.setHeader(k, v);
    try {
      const { target, match } = this.#route(req);
      if (!match) {
        req.resume();
        sendJson(res, 404, { message: 'page not found' });
        return;
      }
      await match.route.handler({ req, res, params: match.params, query: target.query, apiVersion: target.apiVersion, log: this.#log });
      if (!res.writableEnded && !res.headersSent) res.end();
    } catch (e) {
      this.#fail(req, res, e);
    }
  }

  #fail(req: IncomingMessage, res: ServerResponse, e: unknown): void {
    const { status, message } = e instanceof RequestError ? { status: e.status, message: e.message } : errorAnswer(e);
    if (status >= 500) this.#log.error(`Handler for ${req.method} ${req.url} returned error: ${message}${e instanceof Error && e.stack ? `\n${e.stack}` : ''}`);
    else this.#log.debug(`Handler for ${req.method} ${req.url} returned error: ${message}`);
    req.resume(); // an unread body must not stall the connection
    if (!res.headersSent) {
      sendJson(res, status, { message });
      return;
    }
    // mid-stream: the client sees the connection end early
    res.destroy();
  }

  async #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', (e) => this.#log.debug(`hijacked connection: ${e.message}`));
    let target: Target;
    let match: Match | undefined;
    try {
      ({ target, match } = this.#route(req));
    } catch (e) {
      const { status, message } = e instanceof RequestError ? { status: e.status, message: e.message } : errorAnswer(e);
      rawAnswer(socket, status, { message });
      return;
    }
    if (!match) {
      rawAnswer(socket, 404, { message: 'page not found' });
      return;
    }
    const hijack = match.route.hijack;
    if (!hijack) {
      rawAnswer(socket, 400, { message: `${req.method} ${target.path} does not take an upgraded connection` });
      return;
    }
    this.#hijacked.add(socket);
    socket.once('close', () => this.#hijacked.delete(socket));
    try {
      await hijack({ req, socket, head, params: match.params, query: target.query, apiVersion: target.apiVersion, log: this.#log });
    } catch (e) {
      const { status, message } = errorAnswer(e);
      this.#log.debug(`Handler for ${req.method} ${req.url} returned error: ${message}`);
      // before the 101 the client still reads an HTTP answer; after it, only the end of the stream
      if (socket.writable && (socket as Duplex & { bytesWritten?: number }).bytesWritten === 0) rawAnswer(socket, status, { message });
      else socket.destroy();
    }
  }

  /** Listens on `path` (a stale socket file is removed: the caller holds the daemon lock), mode 0660, group `group` if given. */
  async listen(path: string, opts: { gid?: number } = {}): Promise<void> {
    await rm(path, { force: true });
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.#server.once('error', onError);
      this.#server.listen(path, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    this.#socketPath = path;
    await chmod(path, 0o660);
    if (opts.gid !== undefined) await chown(path, 0, opts.gid);
  }

  /** Stops accepting, ends idle and hijacked connections, waits for requests in flight (at most `graceMs`), removes the socket. */
  async close(graceMs = 5000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    for (const s of this.#hijacked) s.destroy();
    const timer = setTimeout(() => this.#server.closeAllConnections(), graceMs);
    await closed;
    clearTimeout(timer);
    if (this.#socketPath !== undefined) await rm(this.#socketPath, { force: true });
  }
}

/** The gid of group `name` from /etc/group, or undefined when there is none. */
export async function groupId(name: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile('/etc/group', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}
