/**
 * The container filesystem routes of the Engine API v1.41: `docker cp` (HEAD/GET/PUT
 * /containers/{id}/archive), `docker export`, `docker diff` and `docker commit`.
 */
import type { Engine } from '../../engine/engine.ts';
import { InvalidParameterError } from '../../engine/errors.ts';
import { queryBool, readJson, sendJson } from '../http.ts';
import type { Router } from '../router.ts';

const STAT_HEADER = 'X-Docker-Container-Path-Stat';

function pathParam(q: URLSearchParams): string {
  const p = q.get('path');
  if (p === null || p === '') throw new InvalidParameterError('path: the "path" query parameter is required');
  return p;
}

export function archiveRoutes(r: Router, engine: Engine): void {
  const ctr = engine.containers;
  r.head('/containers/{id}/archive', (c) => {
    const stat = ctr.statPath(c.params.id!, pathParam(c.query));
    c.res.writeHead(200, { [STAT_HEADER]: Buffer.from(JSON.stringify(stat)).toString('base64'), 'Content-Type': 'application/json' });
    c.res.end();
  });
  r.get('/containers/{id}/archive', async (c) => {
    const { stat, write } = ctr.archive(c.params.id!, pathParam(c.query));
    c.res.writeHead(200, { [STAT_HEADER]: Buffer.from(JSON.stringify(stat)).toString('base64'), 'Content-Type': 'application/x-tar' });
    await write(c.res);
    c.res.end();
  });
  r.put('/containers/{id}/archive', async (c) => {
    await ctr.extract(c.params.id!, pathParam(c.query), c.req, {
      noOverwriteDirNonDir: queryBool(c.query, 'noOverwriteDirNonDir'),
      copyUIDGID: queryBool(c.query, 'copyUIDGID'),
    });
    c.req.resume();
    c.res.writeHead(200, { 'Content-Length': 0 });
    c.res.end();
  });
  r.get('/containers/{id}/export', async (c) => {
    // a missing container is a 404 before the 200
    ctr.get(c.params.id!);
    c.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await ctr.export(c.params.id!, c.res);
    c.res.end();
  });
  r.get('/containers/{id}/changes', async (c) => sendJson(c.res, 200, await ctr.changes(c.params.id!)));
  r.post('/commit', async (c) => {
    const q = c.query;
    const container = q.get('container') ?? '';
    if (container === '') throw new InvalidParameterError('container: the "container" query parameter is required');
    // the CLI sends `null` when no config is given
    const raw = await readJson(c.req);
    if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) throw new InvalidParameterError('malformed JSON request body: want a JSON object (a container Config) or null');
    const body = (raw ?? {}) as Record<string, unknown>;
    sendJson(c.res, 201, await ctr.commit(container, {
      ...(q.get('repo') && { repo: q.get('repo')! }),
      ...(q.get('tag') && { tag: q.get('tag')! }),
      ...(q.get('comment') && { comment: q.get('comment')! }),
      ...(q.get('author') && { author: q.get('author')! }),
      changes: q.getAll('changes').filter((x) => x !== ''),
      // docker's default is to pause (only an explicit false does not)
      pause: q.get('pause') === null || q.get('pause') === '' ? true : queryBool(q, 'pause'),
      ...(Object.keys(body).length > 0 && { config: body }),
    }));
  });
}
