/**
 * At daemon start, each record against what is really there: a create or a removal the daemon
 * died in is finished (nothing half-made stays); a running container whose monitor is alive is
 * watched again; one whose monitor is gone gets the exit from exit.json (or 137 when the monitor
 * itself died without writing one: its container is killed).
 */
import { MonitorClient } from '../../native/monitor.ts';
import type { ContainerContext } from './context.ts';
import { recordExit } from './exit.ts';
import { removeFiles } from './remove.ts';
import { deleteRuntimeContainer } from './start.ts';
import type { Loaded } from './store.ts';
import { isRunningStatus } from './types.ts';

export type Reconciled =
  | { kind: 'live'; l: Loaded; client: MonitorClient }
  | { kind: 'exited'; l: Loaded }
  | { kind: 'gone' }
  | { kind: 'idle'; l: Loaded };

export async function reconcileOne(ctx: ContainerContext, l: Loaded): Promise<Reconciled> {
  const { rec } = l;
  const id = rec.id;
  if (rec.creating || rec.state.Status === 'removing') {
    await deleteRuntimeContainer(ctx, rec).catch((e: Error) => ctx.log.warn(`reconcile ${id}: ${e.message}`));
    // a half-made container's anonymous volumes are its own: they go with it; a removal keeps its -v
    await removeFiles(ctx, id, rec.creating === true || rec.removeVolumes === true, { endpoints: rec.endpoints ?? [], ...(rec.sandboxKey && { sandbox: rec.sandboxKey }) });
    ctx.log.info(`container ${id}: ${rec.creating ? 'a create' : 'a removal'} interrupted by the daemon's end, finished (removed)`);
    return { kind: 'gone' };
  }
  if (!isRunningStatus(rec.state.Status)) {
    // a start the daemon died in leaves a runtime container (and its monitor) behind
    await deleteRuntimeContainer(ctx, rec).catch((e: Error) => ctx.log.warn(`reconcile ${id}: ${e.message}`));
    if (rec.sandboxKey || rec.ports) {
      await ctx.net.down({ id, endpoints: rec.endpoints ?? [], ...(rec.sandboxKey && { sandbox: rec.sandboxKey }) }).catch((e: Error) => ctx.log.warn(`reconcile ${id}: ${e.message}`));
      delete rec.sandboxKey;
      delete rec.ports;
      await ctx.store.save(id).catch(() => undefined);
    }
    return { kind: 'idle', l };
  }
  const opts = ctx.monitorOptions(id, !!rec.config.Tty, false, false, {});
  const client = await MonitorClient.connect(opts.ctlSocket, opts.exitPath);
  if (client.connected) return { kind: 'live', l, client };
  let ex;
  let error = '';
  try {
    ex = await client.exited;
  } catch (e) {
    error = `the monitor died without recording the exit: ${(e as Error).message}`;
    ctx.log.warn(`container ${id}: ${error}`);
  }
  await recordExit(ctx, l, ex, error);
  return { kind: 'exited', l };
}
