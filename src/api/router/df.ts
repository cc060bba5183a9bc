/**
 * `GET /system/df`, and the build cache's prune endpoint, which `docker system prune` calls
 * besides containers, images and networks (berth builds nothing, so the cache is always empty).
 */
import { diskUsage } from '../../engine/df.ts';
import type { Engine } from '../../engine/engine.ts';
import { queryFilters, sendJson } from '../http.ts';
import type { Router } from '../router.ts';

export function diskRoutes(r: Router, engine: Engine): void {
  r.get('/system/df', async (c) => sendJson(c.res, 200, await diskUsage(engine.images, engine.containers, engine.volumes)));
  r.post('/build/prune', (c) => {
    queryFilters(c.query);
    sendJson(c.res, 200, { CachesDeleted: [], SpaceReclaimed: 0 });
  });
}
