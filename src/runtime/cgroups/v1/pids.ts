/** v1 pids controller: pids.max ("max" for a limit of 0 or less, as the runtime-spec reads it). */
import type { Controller, Stats } from '../controller.ts';
import type { Resources } from '../../spec/types.ts';
import { read, write } from '../files.ts';
import { readNumber } from './files.ts';

function apply(dir: string, res: Resources): string[] {
  if (!res.pids) return [];
  const limit = res.pids.limit;
  write(dir, 'pids.max', limit > 0 ? String(limit) : 'max');
  return [];
}

function stats(dir: string, into: Stats): void {
  const current = readNumber(dir, 'pids.current');
  if (current === undefined) return;
  const max = read(dir, 'pids.max')?.trim();
  // runc reports "max" as 0
  into.pids = { current, limit: max === undefined || max === 'max' ? 0 : Number(max) };
}

export const pids: Controller = { name: 'pids', apply, stats };
