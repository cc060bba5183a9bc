/**
 * berth stats: docker 20.10's table of containers' resource use, computed from the API's stats
 * JSON as docker's CLI computes it (CPU % from the deltas to precpu_stats, memory without the
 * inactive file cache, block I/O from io_service_bytes_recursive). Live (the default): a stream
 * per container, the screen cleared and the table drawn every half second; without container
 * names, containers that start (or, with -a, are created) join and those that die leave, as
 * the event stream tells. --no-stream: one sample each, one table.
 */
import type { IncomingMessage } from 'node:http';
import { bool, str } from '../args.ts';
import { goFloat, renderFormat } from '../format.ts';
import { humanSizeWithPrecision } from '../units.ts';
import { DaemonError, responseLines, type Client } from './client.ts';
import type { Command } from './command.ts';

/** The parts of docker's StatsJSON the table uses. */
export interface StatsJson {
  name?: string;
  id?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  blkio_stats?: { io_service_bytes_recursive?: { op: string; value: number }[] | null };
  pids_stats?: { current?: number };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
}

/** docker's StatsEntry: what one sample says. */
export interface StatsEntry {
  name: string;
  id: string;
  cpu: number;
  mem: number;
  memLimit: number;
  memPercent: number;
  netRx: number;
  netTx: number;
  blkRead: number;
  blkWrite: number;
  pids: number;
}

/** The numbers of a sample, as docker's collect() works them out. */
export function statsEntry(v: StatsJson): StatsEntry {
  const cpuDelta = (v.cpu_stats?.cpu_usage?.total_usage ?? 0) - (v.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (v.cpu_stats?.system_cpu_usage ?? 0) - (v.precpu_stats?.system_cpu_usage ?? 0);
  let online = v.cpu_stats?.online_cpus ?? 0;
  if (online === 0) online = v.cpu_stats?.cpu_usage?.percpu_usage?.length ?? 0;
  const cpu = systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0;
  let blkRead = 0;
  let blkWrite = 0;
  for (const e of v.blkio_stats?.io_service_bytes_recursive ?? []) {
    const c = e.op[0];
    if (c === 'r' || c === 'R') blkRead += e.value;
    else if (c === 'w' || c === 'W') blkWrite += e.value;
  }
  const usage = v.memory_stats?.usage ?? 0;
  const st = v.memory_stats?.stats ?? {};
  // cgroup v1's total_inactive_file, else v2's inactive_file: page cache the kernel can drop
  let mem = usage;
  if (st.total_inactive_file !== undefined && st.total_inactive_file < usage) mem = usage - st.total_inactive_file;
  else if ((st.inactive_file ?? 0) < usage) mem = usage - (st.inactive_file ?? 0);
  const memLimit = v.memory_stats?.limit ?? 0;
  let netRx = 0;
  let netTx = 0;
  for (const n of Object.values(v.networks ?? {})) {
    netRx += n.rx_bytes;
    netTx += n.tx_bytes;
  }
  return {
    name: v.name ?? '', id: v.id ?? '', cpu, mem, memLimit, memPercent: memLimit !== 0 ? (mem / memLimit) * 100 : 0,
    netRx, netTx, blkRead, blkWrite, pids: v.pids_stats?.current ?? 0,
  };
}

const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** go-units BytesSize: binary units, 4 significant digits (`1.5MiB`). */
export function bytesSize(size: number): string {
  let s = size;
  let i = 0;
  while (s >= 1024 && i < BINARY_UNITS.length - 1) {
    s /= 1024;
    i++;
  }
  return `${goFloat(s, 4)}${BINARY_UNITS[i]}`;
}

/** A row of docker's stats formatter, fields in JSON's sorted order. */
export interface StatsRow {
  BlockIO: string;
  CPUPerc: string;
  Container: string;
  ID: string;
  MemPerc: string;
  MemUsage: string;
  Name: string;
  NetIO: string;
  PIDs: string;
}

export const STATS_HEADERS: Record<keyof StatsRow, string> = {
  BlockIO: 'BLOCK I/O', CPUPerc: 'CPU %', Container: 'CONTAINER', ID: 'CONTAINER ID', MemPerc: 'MEM %',
  MemUsage: 'MEM USAGE / LIMIT', Name: 'NAME', NetIO: 'NET I/O', PIDs: 'PIDS',
};

const TABLE = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

/** `container`: as the user named it (or the short id); an invalid entry shows `--` as docker's does. */
export function statsRow(container: string, e: StatsEntry | undefined, trunc: boolean): StatsRow {
  const invalid = e === undefined;
  const s = e ?? { name: '', id: '', cpu: 0, mem: 0, memLimit: 0, memPercent: 0, netRx: 0, netTx: 0, blkRead: 0, blkWrite: 0, pids: 0 };
  const h3 = (n: number): string => humanSizeWithPrecision(n, 3);
  return {
    BlockIO: invalid ? '--' : `${h3(s.blkRead)} / ${h3(s.blkWrite)}`,
    CPUPerc: invalid ? '--' : `${s.cpu.toFixed(2)}%`,
    Container: container,
    ID: trunc ? s.id.replace(/^sha256:/, '').slice(0, 12) : s.id,
    MemPerc: invalid ? '--' : `${s.memPercent.toFixed(2)}%`,
    MemUsage: invalid ? '-- / --' : `${bytesSize(s.mem)} / ${bytesSize(s.memLimit)}`,
    Name: s.name.length > 1 ? s.name.slice(1) : '--',
    NetIO: invalid ? '--' : `${h3(s.netRx)} / ${h3(s.netTx)}`,
    PIDs: invalid ? '--' : String(s.pids),
  };
}

/** One container's samples: the latest entry, or the error that ended its stream. */
class Collector {
  entry: StatsEntry | undefined;
  /** the last sample is stale (docker's SetErrorAndReset after 2 s without one) */
  invalid = false;
  error: Error | undefined;
  #res: IncomingMessage | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly first: Promise<void>;

  constructor(readonly container: string, client: Client, stream: boolean) {
    let firstDone!: () => void;
    this.first = new Promise((r) => (firstDone = r));
    const stale = (): void => {
      this.invalid = true;
      this.error ??= new Error('timeout waiting for stats');
      firstDone();
    };
    this.#timer = setTimeout(stale, 2000);
    void (async () => {
      try {
        this.#res = await client.call('GET', `/containers/${encodeURIComponent(container)}/stats`, { query: { stream } });
        let buf = '';
        this.#res.setEncoding('utf8');
        for await (const chunk of this.#res) {
          buf += chunk as string;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.trim() === '') continue;
            this.entry = statsEntry(JSON.parse(line) as StatsJson);
            this.invalid = false;
            this.error = undefined;
            clearTimeout(this.#timer);
            if (stream) this.#timer = setTimeout(stale, 2000);
            firstDone();
          }
        }
        if (buf.trim() !== '') {
          this.entry = statsEntry(JSON.parse(buf) as StatsJson);
          this.invalid = false;
        }
        // a live stream that ended (the container stopped) shows `--`, as docker's EOF does
        if (stream) this.invalid = true;
      } catch (e) {
        this.error = e as Error;
        this.invalid = true;
      } finally {
        clearTimeout(this.#timer);
        firstDone();
      }
    })();
  }

  row(trunc: boolean): StatsRow {
    return statsRow(this.container, this.invalid ? undefined : this.entry, trunc);
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#res?.destroy();
  }
}

/** docker's message of a failed stats call */
const failure = (e: Error): string => (e instanceof DaemonError ? `Error response from daemon: ${e.message}` : e.message);

export const statsCommand: Command = {
  name: 'container stats',
  aliases: ['stats'],
  usage: '[OPTIONS] [CONTAINER...]',
  summary: 'Display a live stream of container(s) resource usage statistics',
  flags: [{ names: ['all', 'a'], kind: 'bool' }, { names: ['format'], kind: 'string' }, { names: ['no-stream'], kind: 'bool' }, { names: ['no-trunc'], kind: 'bool' }],
  flagHelp: [
    '  -a, --all             Show all containers (default shows just running)',
    '      --format string   Pretty-print images using a Go template',
    '      --no-stream       Disable streaming stats and only pull the first result',
    '      --no-trunc        Do not truncate output',
  ].join('\n'),
  failureStatus: 1,
  async run(p, ctx) {
    const client = await ctx.client();
    const stream = !bool(p, 'no-stream');
    const all = bool(p, 'all');
    const trunc = !bool(p, 'no-trunc');
    const showAll = p.rest.length === 0;
    const collectors = new Map<string, Collector>();
    const add = (c: string): void => {
      if (!collectors.has(c)) collectors.set(c, new Collector(c, client, stream));
    };
    const drop = (c: string): void => {
      collectors.get(c)?.close();
      collectors.delete(c);
    };
    let events: IncomingMessage | undefined;
    let streamError: Error | undefined;
    try {
      if (showAll) {
        // subscribed before the list is read, as docker does: no container starts unseen in between
        events = await client.call('GET', '/events', { query: { filters: JSON.stringify({ type: ['container'] }) } });
        const ev = events;
        void (async () => {
          try {
            for await (const line of responseLines(ev)) {
              if (line.trim() === '') continue;
              const m = JSON.parse(line) as { Action?: string; Actor?: { ID?: string } };
              const id = (m.Actor?.ID ?? '').slice(0, 12);
              if (m.Action === 'start' || (m.Action === 'create' && all)) add(id);
              else if (m.Action === 'die' && !all) drop(id);
            }
          } catch (e) {
            streamError = e as Error;
          }
        })();
        const list = await client.get<{ Id: string }[]>('/containers/json', { all });
        for (const c of list) add(c.Id.slice(0, 12));
      } else {
        for (const c of p.rest) add(c);
      }
      await Promise.all([...collectors.values()].map((c) => c.first));
      if (!showAll) {
        const errors = [...collectors.values()].filter((c) => c.error !== undefined).map((c) => failure(c.error!));
        if (errors.length > 0) {
          ctx.stderr.write(`${errors.join('\n')}\n`);
          return 1;
        }
      }
      let format = str(p, 'format') ?? '';
      if (format === '' || format === 'table') format = TABLE;
      if (format === 'json') format = '{{json .}}';
      for (;;) {
        await new Promise((r) => setTimeout(r, 500));
        // docker clears the screen before each table of a live view, whatever stdout is
        if (stream) ctx.stdout.write('\u001b[2J\u001b[H');
        ctx.stdout.write(renderFormat(format, [...collectors.values()].map((c) => c.row(trunc)), STATS_HEADERS));
        if (!stream || (collectors.size === 0 && !showAll)) return 0;
        if (streamError) throw streamError;
      }
    } finally {
      events?.destroy();
      for (const c of collectors.values()) c.close();
    }
  },
};
