/** `docker kill [-s SIGNAL]`: a signal to the container's init (by name, SIGNAME or number). */
import { constants } from 'node:os';

import { ConflictError, InvalidParameterError } from '../errors.ts';
import type { ContainerContext } from './context.ts';
import type { Loaded } from './store.ts';
import { isRunningStatus } from './types.ts';

const SIGNALS = constants.signals as Record<string, number>;

/** docker's signal.ParseSignal: `KILL`, `SIGKILL`, `9` */
export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw new InvalidParameterError(`Invalid signal: ${s}`);
    return n;
  }
  const name = s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
  const n = SIGNALS[name];
  if (n === undefined) throw new InvalidParameterError(`Invalid signal: ${s}`);
  return n;
}

export function notRunning(id: string): ConflictError {
  return new ConflictError(`Container ${id} is not running`);
}

/** Sends `signal` to the init; a container that is not running is docker's 409. */
export async function killContainer(ctx: ContainerContext, l: Loaded, signal: number): Promise<void> {
  const { rec } = l;
  if (!isRunningStatus(rec.state.Status)) throw notRunning(rec.id);
  try {
    await ctx.runtimeOf(rec).kill(rec.id, signal);
  } catch (e) {
    // the init exited meanwhile: its exit is being recorded
    if (!/not running|does not exist/.test((e as Error).message)) throw e;
  }
}
