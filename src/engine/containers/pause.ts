/** `docker pause` / `unpause`: the runtime's cgroup freezer. */
import { ConflictError } from '../errors.ts';
import type { ContainerContext } from './context.ts';
import { notRunning } from './kill.ts';
import type { Loaded } from './store.ts';

export async function pauseContainer(ctx: ContainerContext, l: Loaded): Promise<void> {
  const { rec } = l;
  if (rec.state.Status === 'paused') throw new ConflictError(`Container ${rec.id} is already paused`);
  if (rec.state.Status !== 'running') throw notRunning(rec.id);
  await ctx.runtimeOf(rec).pause(rec.id);
  rec.state = { ...rec.state, Status: 'paused', Paused: true };
  await ctx.store.save(rec.id);
}

export async function unpauseContainer(ctx: ContainerContext, l: Loaded): Promise<void> {
  const { rec } = l;
  if (rec.state.Status !== 'paused') throw new ConflictError(`Container ${rec.id} is not paused`);
  await ctx.runtimeOf(rec).resume(rec.id);
  rec.state = { ...rec.state, Status: 'running', Paused: false };
  await ctx.store.save(rec.id);
}
