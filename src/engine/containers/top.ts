/**
 * `docker top [ps OPTIONS]`: as dockerd does it, the host's `ps` with the caller's options (default
 * `-ef`), keeping the rows whose PID is one of the container's processes (its cgroup's).
 */
import { execFile } from 'node:child_process';

import { InvalidParameterError, SystemError } from '../errors.ts';
import type { ContainerContext } from './context.ts';
import { notRunning } from './kill.ts';
import type { Loaded } from './store.ts';
import { isRunningStatus } from './types.ts';

export async function topContainer(ctx: ContainerContext, l: Loaded, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
  if (!isRunningStatus(l.rec.state.Status)) throw notRunning(l.rec.id);
  const pids = new Set(await ctx.runtimeOf(l.rec).pids(l.rec.id));
  const args = (psArgs.trim() === '' ? '-ef' : psArgs).split(/\s+/);
  const out = await new Promise<string>((resolve, reject) => {
    execFile('ps', args, { maxBuffer: 16 << 20 }, (e, stdout, stderr) => {
      if (e) reject(new SystemError(`Error running ps: ${stderr.trim() || e.message}`));
      else resolve(stdout);
    });
  });
  const lines = out.split('\n').filter((x) => x.trim() !== '');
  const titles = (lines[0] ?? '').trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw new InvalidParameterError(`Couldn't find PID field in ps output`);
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (!pids.has(Number(fields[pidCol]))) continue;
    // the last column (the command) keeps its spaces
    processes.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]);
  }
  return { Titles: titles, Processes: processes };
}
