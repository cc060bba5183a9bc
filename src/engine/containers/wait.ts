/** `POST /containers/{id}/wait?condition=not-running|next-exit|removed`: the exit code when it happens. */
import { InvalidParameterError } from '../errors.ts';
import type { ContainerContext } from './context.ts';
import type { Loaded } from './store.ts';
import { isRunningStatus } from './types.ts';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export function parseCondition(s: string | null): WaitCondition {
  if (s === null || s === '' || s === 'not-running') return 'not-running';
  if (s === 'next-exit' || s === 'removed') return s;
  throw new InvalidParameterError(`invalid condition: ${JSON.stringify(s)} (want not-running, next-exit or removed)`);
}

/** The exit code, and for `removed` the removal's error when it failed (docker's wait body's Error). */
export async function waitContainer(ctx: ContainerContext, l: Loaded, condition: WaitCondition): Promise<{ exitCode: number; error?: string }> {
  const { rec } = l;
  if (condition === 'removed') return ctx.removed(rec.id);
  if (condition === 'not-running' && !isRunningStatus(rec.state.Status)) return { exitCode: rec.state.ExitCode };
  return { exitCode: await ctx.nextExit(rec.id) };
}
