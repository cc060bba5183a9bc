/**
 * Network routes of the Engine API v1.41: list, inspect, create, remove, connect, disconnect,
 * prune. Decode the request, call the engine's network service, send docker's shapes
 * (NetworkResource, NetworkCreateResponse, NetworksPruneReport).
 */
import type { Engine } from '../../engine/engine.ts';
import { InvalidParameterError } from '../../engine/errors.ts';
import { decodeConnect, decodeCreateRequest, decodeDisconnect } from '../../engine/networks/index.ts';
import { queryFilters, readJson, sendEmpty, sendJson } from '../http.ts';
import type { Router } from '../router.ts';

/** Go's strconv.ParseBool, for inspect's `verbose` (dockerd refuses anything else) */
function verboseOf(q: URLSearchParams): boolean {
  const v = q.get('verbose');
  if (v === null || v === '') return false;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw new InvalidParameterError(`invalid value for verbose: ${v}`);
}

export function networkRoutes(r: Router, engine: Engine): void {
  r.get('/networks', (c) => sendJson(c.res, 200, engine.networks.list(queryFilters(c.query))));
  r.post('/networks/create', async (c) => sendJson(c.res, 201, await engine.networks.create(decodeCreateRequest(await readJson(c.req)))));
  r.post('/networks/prune', async (c) => sendJson(c.res, 200, await engine.networks.prune(queryFilters(c.query))));
  r.post('/networks/{id}/connect', async (c) => {
    const body = decodeConnect(await readJson(c.req));
    await engine.networks.connect(c.params.id!, body.Container, body.EndpointConfig);
    sendEmpty(c.res, 200);
  });
  r.post('/networks/{id}/disconnect', async (c) => {
    const body = decodeDisconnect(await readJson(c.req));
    await engine.networks.disconnect(c.params.id!, body.Container, body.Force);
    sendEmpty(c.res, 200);
  });
  r.get('/networks/{id}', (c) => {
    const verbose = verboseOf(c.query);
    const scope = c.query.get('scope') ?? '';
    sendJson(c.res, 200, engine.networks.inspect(c.params.id!, { verbose, ...(scope !== '' && { scope }) }));
  });
  r.delete('/networks/{id}', async (c) => {
    await engine.networks.remove(c.params.id!);
    sendEmpty(c.res, 204);
  });
}
