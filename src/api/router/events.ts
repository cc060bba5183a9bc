/**
 * `GET /events`: docker's event stream, one JSON message a line on a chunked 200. With `since`,
 * the events the engine still holds from that time on come first; with `until`, the stream ends
 * at that time (at once when it is in the past). Filters as docker's (type, container, image,
 * event, label, volume …).
 */
import type { Engine } from '../../engine/engine.ts';
import { InvalidParameterError } from '../../engine/errors.ts';
import { eventFilter, parseEventTime, type EventMessage } from '../../engine/events.ts';
import { queryFilters } from '../http.ts';
import type { RouteContext, Router } from '../router.ts';

/** seconds.nanoseconds, as docker prints a time in its messages */
const secs = (ns: number): string => `${Math.floor(ns / 1e9)}.${String(Math.round(ns % 1e9)).padStart(9, '0')}`;

async function events(c: RouteContext, engine: Engine): Promise<void> {
  const since = parseEventTime(c.query.get('since'), 'since');
  const until = parseEventTime(c.query.get('until'), 'until');
  if (since !== undefined && until !== undefined && until < since) {
    throw new InvalidParameterError(`since time (${secs(since)}) cannot be after until time (${secs(until)})`);
  }
  const match = eventFilter(queryFilters(c.query));
  const res = c.res;
  c.req.resume();
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  const write = (e: EventMessage): void => {
    if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(e)}\n`);
  };
  // replay and subscription in one tick: nothing published in between is lost or sent twice
  const replay = since !== undefined || until !== undefined ? engine.events.recent(since ?? 0, until ?? Infinity).filter(match) : [];
  for (const e of replay) write(e);
  const nowNs = Date.now() * 1e6;
  if (until !== undefined && until <= nowNs) {
    res.end();
    return;
  }
  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const unsubscribe = engine.events.subscribe((e) => {
      if (match(e) && (until === undefined || e.timeNano <= until)) write(e);
    });
    const done = (): void => {
      unsubscribe();
      clearTimeout(timer);
      resolve();
    };
    if (until !== undefined) timer = setTimeout(() => {
      done();
      res.end();
    }, Math.max(0, (until - nowNs) / 1e6));
    res.once('close', done);
  });
}

export function eventRoutes(r: Router, engine: Engine): void {
  r.get('/events', (c) => events(c, engine));
}
