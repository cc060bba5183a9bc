/**
 * `GET /containers/{id}/explain`: berth's extension (docker clients never call it), how the
 * container was made, step by step, with real values and times (src/engine/containers/explain.ts).
 */
import type { Engine } from '../../engine/engine.ts';
import { sendJson } from '../http.ts';
import type { Router } from '../router.ts';

export function explainRoutes(r: Router, engine: Engine): void {
  r.get('/containers/{id}/explain', async (c) => sendJson(c.res, 200, await engine.containers.explain(c.params.id!)));
}
