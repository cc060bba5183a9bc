// berth update / container update: a running or stopped container's resources and restart policy (POST /containers/{id}/update).
import { str, type Parsed } from '../args.ts';
import { DaemonError } from './client.ts';
import { PlainFailure, wantArgs } from './command.ts';
import type { Command } from './command.ts';
import { integer, nanoCpusOf, restartPolicy, size } from './run-options.ts';

/** docker's UpdateConfig of the flags given; an unset flag is left out, so the daemon keeps its value. */
function updateConfig(p: Parsed): Record<string, unknown> {
  const body: Record<string, unknown> = {
    BlkioWeight: integer(p, 'blkio-weight'),
    CpuPeriod: integer(p, 'cpu-period'),
    CpuQuota: integer(p, 'cpu-quota'),
    CpuRealtimePeriod: integer(p, 'cpu-rt-period'),
    CpuRealtimeRuntime: integer(p, 'cpu-rt-runtime'),
    CpuShares: integer(p, 'cpu-shares', 'c'),
    NanoCpus: nanoCpusOf(p),
    CpusetCpus: str(p, 'cpuset-cpus'),
    CpusetMems: str(p, 'cpuset-mems'),
    KernelMemory: size(p, 'kernel-memory'),
    Memory: size(p, 'memory', 'm'),
    MemoryReservation: size(p, 'memory-reservation'),
    MemorySwap: size(p, 'memory-swap'),
    PidsLimit: integer(p, 'pids-limit'),
    RestartPolicy: restartPolicy(str(p, 'restart')),
  };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  return body;
}

export const updateCommand: Command = {
  name: 'container update',
  aliases: ['update'],
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Update configuration of one or more containers',
  flags: [
    { names: ['blkio-weight'], kind: 'string' }, { names: ['cpu-period'], kind: 'string' }, { names: ['cpu-quota'], kind: 'string' },
    { names: ['cpu-rt-period'], kind: 'string' }, { names: ['cpu-rt-runtime'], kind: 'string' }, { names: ['cpu-shares', 'c'], kind: 'string' },
    { names: ['cpus'], kind: 'string' }, { names: ['cpuset-cpus'], kind: 'string' }, { names: ['cpuset-mems'], kind: 'string' },
    { names: ['kernel-memory'], kind: 'string' }, { names: ['memory', 'm'], kind: 'string' }, { names: ['memory-reservation'], kind: 'string' },
    { names: ['memory-swap'], kind: 'string' }, { names: ['pids-limit'], kind: 'string' }, { names: ['restart'], kind: 'string' },
  ],
  flagHelp: [
    '      --blkio-weight uint16        Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)',
    '      --cpu-period int             Limit CPU CFS (Completely Fair Scheduler) period',
    '      --cpu-quota int              Limit CPU CFS (Completely Fair Scheduler) quota',
    '      --cpu-rt-period int          Limit the CPU real-time period in microseconds',
    '      --cpu-rt-runtime int         Limit the CPU real-time runtime in microseconds',
    '  -c, --cpu-shares int             CPU shares (relative weight)',
    '      --cpus decimal               Number of CPUs',
    '      --cpuset-cpus string         CPUs in which to allow execution (0-3, 0,1)',
    '      --cpuset-mems string         MEMs in which to allow execution (0-3, 0,1)',
    '      --kernel-memory bytes        Kernel memory limit',
    '  -m, --memory bytes               Memory limit',
    '      --memory-reservation bytes   Memory soft limit',
    '      --memory-swap bytes          Swap limit equal to memory plus swap: \'-1\' to enable unlimited swap',
    '      --pids-limit int             Tune container pids limit (set -1 for unlimited)',
    '      --restart string             Restart policy to apply when a container exits',
  ].join('\n'),
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 1);
    if (p.flags.size === 0) throw new PlainFailure('you must provide one or more flags when using this command');
    const body = updateConfig(p);
    const client = await ctx.client();
    // docker tries every container, prints the names it updated, then the warnings, then the errors joined
    const errors: string[] = [];
    const warnings: string[] = [];
    for (const n of p.rest) {
      try {
        const r = await client.post<{ Warnings?: string[] | null }>(`/containers/${encodeURIComponent(n)}/update`, undefined, body);
        ctx.stdout.write(`${n}\n`);
        warnings.push(...(r?.Warnings ?? []));
      } catch (e) {
        if (!(e instanceof DaemonError)) throw e;
        errors.push(`Error response from daemon: ${e.message}`);
      }
    }
    if (warnings.length > 0) ctx.stdout.write(`${warnings.join('\n')}\n`);
    if (errors.length > 0) throw new PlainFailure(errors.join('\n'));
    return 0;
  },
};
