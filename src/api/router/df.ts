/**
 * `GET /system/df`, and the prune endpoints `docker system prune` calls besides containers and
 * images: networks (berthd has only the built-in none and host networks, which are never pruned)
 * and the build cache (berth builds nothing, so it is always empty).
 */
import { diskUsage } from '../../engine/df.ts';
import type { Engine } from '../../engine/engine.ts';
import { queryFilters, sendJson } from '../http.ts';
import type { Router } from '../router.ts';

export function diskRoutes(r: Router, engine: Engine): void {
  r.get('/system/df', async (c) => sendJson(c.res, 200, await diskUsage(engine.images, engine.containers, engine.volumes)));
  r.post('/networks/prune', (c) => {
    queryFilters(c.query);
    sendJson(c.res, 200, { NetworksDeleted: [] });
  });
  r.post('/build/prune', (c) => {
    queryFilters(c.query);
    sendJson(c.res, 200, { CachesDeleted: [], SpaceReclaimed: 0 });
  });
}
