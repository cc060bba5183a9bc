/**
 * `docker stop [-t N]`: the stop signal (Config.StopSignal, default SIGTERM), then SIGKILL when
 * the init has not exited after the timeout (-t, Config.StopTimeout, default 10 s). Resolves once
 * the exit is recorded.
 */
import { NotModifiedError } from '../errors.ts';
import type { ContainerContext } from './context.ts';
import { parseSignal } from './kill.ts';
import type { Loaded } from './store.ts';
import { isRunningStatus } from './types.ts';

export const DEFAULT_STOP_TIMEOUT = 10;

async function send(ctx: ContainerContext, l: Loaded, sig: number): Promise<void> {
  try {
    await ctx.runtimeOf(l.rec).kill(l.rec.id, sig);
    ctx.emit(l, 'kill', { signal: String(sig) });
  } catch { /* already exited: the exit is on its way */ }
}

export async function stopContainer(ctx: ContainerContext, l: Loaded, timeoutS?: number): Promise<void> {
  const { rec } = l;
  if (!isRunningStatus(rec.state.Status)) throw new NotModifiedError(`Container ${rec.id} is not running`);
  rec.manuallyStopped = true;
  await ctx.store.save(rec.id);
  const exited = ctx.nextExit(rec.id);
  // a frozen init cannot act on a signal
  if (rec.state.Paused) {
    try {
      await ctx.runtimeOf(rec).resume(rec.id);
    } catch { /* not paused after all */ }
  }
  const t = timeoutS ?? rec.config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
  let timer: NodeJS.Timeout | undefined;
  if (t !== 0) {
    await send(ctx, l, parseSignal(rec.config.StopSignal || 'SIGTERM'));
    if (t < 0) {
      await exited;
      return;
    }
    const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), t * 1000)))]);
    clearTimeout(timer);
    if (!timedOut) return;
  }
  await send(ctx, l, 9);
  await exited;
}
