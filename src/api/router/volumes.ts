/**
 * Volume routes of the Engine API v1.41: list, create, inspect, remove, prune. Decode the
 * request, call the engine's volume service, send docker's shapes (Volume, VolumeListOKBody,
 * VolumesPruneReport).
 */
import type { Engine } from '../../engine/engine.ts';
import { InvalidParameterError } from '../../engine/errors.ts';
import type { VolumeCreateRequest } from '../../engine/volumes/index.ts';
import { queryBool, queryFilters, readJsonObject, sendEmpty, sendJson } from '../http.ts';
import type { Router } from '../router.ts';

function createRequest(body: Record<string, unknown>): VolumeCreateRequest {
  // other fields are ignored, as dockerd's JSON decoding ignores them
  for (const k of ['Name', 'Driver'] as const) {
    if (body[k] !== undefined && body[k] !== null && typeof body[k] !== 'string') throw new InvalidParameterError(`malformed JSON request body: "${k}": want a string`);
  }
  return body as VolumeCreateRequest;
}

export function volumeRoutes(r: Router, engine: Engine): void {
  r.get('/volumes', async (c) => sendJson(c.res, 200, await engine.volumes.list(queryFilters(c.query))));
  r.post('/volumes/create', async (c) => sendJson(c.res, 201, await engine.volumes.create(createRequest(await readJsonObject(c.req)))));
  r.post('/volumes/prune', async (c) => sendJson(c.res, 200, await engine.volumes.prune(queryFilters(c.query))));
  r.get('/volumes/{name}', async (c) => sendJson(c.res, 200, await engine.volumes.inspect(c.params.name!)));
  r.delete('/volumes/{name}', async (c) => {
    await engine.volumes.remove(c.params.name!, { force: queryBool(c.query, 'force') });
    sendEmpty(c.res, 204);
  });
}
