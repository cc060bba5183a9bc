/**
 * Routes by method and path pattern. A pattern's `{param}` matches one or more characters,
 * slashes included, as docker's `{name:.*}` does: image names carry slashes
 * (`/images/127.0.0.1:5000/app:1/json`). Routes are tried in the order they were added, so a
 * fixed path (`/images/json`) is added before the pattern it would also match.
 *
 * A resource's routes live in src/api/router/<resource>.ts as a function that adds them:
 * `export function imageRoutes(r: Router, engine: Engine): void`. Container routes plug in the
 * same way; a route that takes over the connection (attach, exec start) gives `hijack`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

import type { Logger } from '../engine/log.ts';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  /** the API version the client asked for (`1.41` when it gave none) */
  apiVersion: string;
  log: Logger;
}

/** A hijacked request: no ServerResponse, the raw connection instead (see stream.ts hijack). */
export interface HijackContext extends Omit<RouteContext, 'res'> {
  socket: Duplex;
  /** bytes the client sent after its request headers */
  head: Buffer;
}

export type Handler = (c: RouteContext) => Promise<void> | void;
export type HijackHandler = (c: HijackContext) => Promise<void> | void;

interface Route {
  method: Method;
  pattern: string;
  re: RegExp;
  names: string[];
  handler: Handler;
  hijack?: HijackHandler;
}

export interface Match {
  route: Route;
  params: Record<string, string>;
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

export class Router {
  readonly #routes: Route[] = [];

  add(method: Method, pattern: string, handler: Handler, opts: { hijack?: HijackHandler } = {}): this {
    const names: string[] = [];
    let re = '^';
    for (const part of pattern.split(/(\{[a-zA-Z]+\})/)) {
      const m = /^\{([a-zA-Z]+)\}$/.exec(part);
      if (m) {
        names.push(m[1]!);
        re += '(.+)';
      } else re += escapeRe(part);
    }
    this.#routes.push({ method, pattern, re: new RegExp(`${re}$`), names, handler, ...(opts.hijack && { hijack: opts.hijack }) });
    return this;
  }

  get(pattern: string, h: Handler): this {
    return this.add('GET', pattern, h);
  }

  head(pattern: string, h: Handler): this {
    return this.add('HEAD', pattern, h);
  }

  post(pattern: string, h: Handler, opts: { hijack?: HijackHandler } = {}): this {
    return this.add('POST', pattern, h, opts);
  }

  put(pattern: string, h: Handler): this {
    return this.add('PUT', pattern, h);
  }

  delete(pattern: string, h: Handler): this {
    return this.add('DELETE', pattern, h);
  }

  /** The route for `method` and the (decoded, unversioned) `path`, or undefined: docker's 404 "page not found". */
  match(method: string, path: string): Match | undefined {
    for (const route of this.#routes) {
      if (route.method !== method) continue;
      const m = route.re.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.names.forEach((n, i) => {
        params[n] = m[i + 1]!;
      });
      return { route, params };
    }
    return undefined;
  }
}
