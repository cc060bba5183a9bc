/**
 * `docker rm [-f] [-v]`: a running container only with force (killed, its exit recorded first);
 * `-v` removes its anonymous volumes (docker's RemoveVolume);
 * the record is marked `removing` before anything goes, so a daemon killed in the middle finishes
 * the job at its next start. Then the bundle (overlay unmounted, snapshot references dropped),
 * the run directory and the container directory.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';

import { isMountPoint, removeBundle, unmountOverlay } from '../../image/index.ts';
import { ConflictError } from '../errors.ts';
import type { ContainerContext } from './context.ts';
import { deleteRuntimeContainer } from './start.ts';
import type { Loaded } from './store.ts';
import type { EndpointRecord } from '../netplane/plane.ts';
import { isRunningStatus } from './types.ts';

/**
 * Everything of a container that is not running, gone: its references on volumes dropped too
 * (before the record, so a daemon dying in between finishes the job), and with `volumes` (`rm -v`)
 * the anonymous volumes no other container uses.
 */
export async function removeFiles(ctx: ContainerContext, id: string, volumes: boolean, opts: { runtimeDeleted?: boolean; endpoints?: EndpointRecord[]; sandbox?: string } = {}): Promise<void> {
  // a removal the daemon died in may have left the network of a start it died in too
  if (opts.sandbox) await ctx.net.down({ id, endpoints: opts.endpoints ?? [], sandbox: opts.sandbox });
  await ctx.dropPrepared(id);
  const bundle = ctx.bundleDir(id);
  if (existsSync(join(bundle, '.berth', 'bundle.json'))) await removeBundle(bundle, { knownUnused: !!opts.runtimeDeleted });
  else if (isMountPoint(join(bundle, 'rootfs'))) await unmountOverlay(join(bundle, 'rootfs'));
  await rm(ctx.runDir(id), { recursive: true, force: true });
  await ctx.volumes.releaseMounts(id, volumes);
  await ctx.net.detach(id, opts.endpoints ?? []);
  await ctx.store.drop(id);
}

export async function removeContainer(ctx: ContainerContext, l: Loaded, opts: { force: boolean; volumes: boolean; stopAndWait: (l: Loaded) => Promise<void> }): Promise<void> {
  const { rec } = l;
  // (a record still marked `removing` here is an attempt that failed: verbs of a container are serialised)
  if (isRunningStatus(rec.state.Status)) {
    if (!opts.force) {
      const what = rec.state.Paused ? 'paused' : 'running';
      throw new ConflictError(`You cannot remove a ${what} container ${rec.id}. ${rec.state.Paused ? 'Unpause and then stop' : 'Stop'} the container before attempting removal or force remove`);
    }
    await opts.stopAndWait(l);
  }
  rec.state = { ...rec.state, Status: 'removing' };
  if (opts.volumes) rec.removeVolumes = true;
  await ctx.store.save(rec.id).catch((e: NodeJS.ErrnoException) => {
    // a full disk is when removing matters most: the mark only makes an interrupted removal resume
    // at the next start, and a removal redone from an unmarked record ends the same
    if (e.code !== 'ENOSPC' && e.code !== 'EDQUOT') throw e;
    ctx.log.warn(`container ${rec.id}: removing without the removal mark: ${e.message}`);
  });
  try {
    // a start the daemon was killed in may have left a runtime container (state, cgroups) that no
    // exit ever deleted: whatever there is goes (deleting none is cheap)
    await deleteRuntimeContainer(ctx, rec);
    await removeFiles(ctx, rec.id, opts.volumes, { runtimeDeleted: true, endpoints: rec.endpoints ?? [], ...(rec.sandboxKey && { sandbox: rec.sandboxKey }) });
  } catch (e) {
    // docker's SetRemovalError: the container is dead, and `rm` may be tried again
    rec.state = { ...rec.state, Status: 'dead', Dead: true, Error: `removal failed: ${(e as Error).message}` };
    await ctx.store.save(rec.id).catch(() => undefined);
    ctx.notifyRemovalFailed(rec.id, rec.state.ExitCode, rec.state.Error);
    throw e;
  }
  ctx.emit(l, 'destroy');
  ctx.notifyRemoved(rec.id, rec.state.ExitCode);
}
