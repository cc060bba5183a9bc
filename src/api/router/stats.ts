/**
 * `GET /containers/{id}/stats` (docker's StatsJSON, one JSON object a line, every second while
 * `stream`) and `POST /containers/{id}/update` (resources and restart policy).
 */
import type { Engine } from '../../engine/engine.ts';
import { encodeJson } from '../../runtime/events.ts';
import { queryBool, readJsonObject, sendJson } from '../http.ts';
import type { Router } from '../router.ts';

export function statsRoutes(r: Router, engine: Engine): void {
  const ctr = engine.containers;
  r.get('/containers/{id}/stats', async (c) => {
    const q = c.query;
    // docker's default is to stream
    const stream = q.get('stream') === null ? true : queryBool(q, 'stream');
    const oneShot = queryBool(q, 'one-shot');
    ctr.get(c.params.id!); // a 404 before the 200
    c.req.resume();
    c.res.writeHead(200, { 'Content-Type': 'application/json' });
    c.res.flushHeaders();
    let closed = false;
    c.res.once('close', () => (closed = true));
    // limits beyond 2^53 (v1's "unlimited") are printed as the kernel has them: clients read uint64
    await ctr.stats(c.params.id!, { stream, oneShot }, (s) => {
      if (!closed) c.res.write(`${encodeJson(s)}\n`);
    }, () => closed);
    c.res.end();
  });
  r.post('/containers/{id}/update', async (c) => {
    const body = await readJsonObject(c.req);
    sendJson(c.res, 200, await ctr.update(c.params.id!, body));
  });
}
