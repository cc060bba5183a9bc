/**
 * berthd --debug: how long the event loop was held up, logged each second it exceeded 20 ms (a
 * daemon serving other clients must never block: this is how to see that it does, and when).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

import type { Logger } from '../engine/log.ts';

export function watchLoopDelay(log: Logger): () => void {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const t = setInterval(() => {
    const maxMs = h.max / 1e6;
    if (maxMs > 20) log.debug(`event loop delay over the last second: max ${maxMs.toFixed(1)} ms, p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms, mean ${(h.mean / 1e6).toFixed(1)} ms`);
    h.reset();
  }, 1000);
  t.unref();
  return () => {
    clearInterval(t);
    h.disable();
  };
}
