// berth volume create / ls / inspect / rm / prune: docker 20.10's volume verbs against the API.
import { bool, list, str } from '../args.ts';
import { renderFormat } from '../format.ts';
import { humanSize } from '../units.ts';
import type { Volume } from '../../engine/volumes/index.ts';
import { DaemonError } from './client.ts';
import { wantArgs } from './command.ts';
import type { Command } from './command.ts';
import { confirm } from './confirm.ts';
import { filterFlags } from './filters.ts';
import { inspectEach } from './inspect-each.ts';
import { checkLabel, labelsText } from './labels.ts';
import { pruneVolumes, writePruned, writeTotal } from './prune-reports.ts';
import { keyValues } from './run-options.ts';

const enc = encodeURIComponent;

/** A row of docker's volume formatter: its fields (in JSON's sorted order) for --format. */
export interface VolumeRow {
  Driver: string;
  Labels: string;
  Links: string;
  Mountpoint: string;
  Name: string;
  Scope: string;
  Size: string;
}

export const VOLUME_HEADERS: Record<keyof VolumeRow, string> = {
  Driver: 'DRIVER', Labels: 'LABELS', Links: 'LINKS', Mountpoint: 'MOUNTPOINT', Name: 'VOLUME NAME', Scope: 'SCOPE', Size: 'SIZE',
};

export function volumeRow(v: Volume): VolumeRow {
  return {
    Driver: v.Driver,
    Labels: labelsText(v.Labels),
    Links: v.UsageData ? String(v.UsageData.RefCount) : 'N/A',
    Mountpoint: v.Mountpoint,
    Name: v.Name,
    Scope: v.Scope,
    Size: v.UsageData ? humanSize(v.UsageData.Size) : 'N/A',
  };
}

/** sortorder.NaturalLess: runs of digits compare as numbers, the rest byte-wise. */
export function naturalCompare(a: string, b: string): number {
  const chunks = (s: string): string[] => s.match(/\d+|\D+/g) ?? [];
  const x = chunks(a);
  const y = chunks(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i]!;
    const q = y[i]!;
    if (p === q) continue;
    if (/^\d/.test(p) && /^\d/.test(q)) {
      const d = Number(p) - Number(q);
      if (d !== 0) return d;
      return p.length - q.length;
    }
    return p < q ? -1 : 1;
  }
  return x.length - y.length;
}



/** docker's client words a 404 about a volume itself (objectNotFoundError) */
const notFound = (e: DaemonError, name: string): string => (e.status === 404 ? `Error: No such volume: ${name}` : `Error response from daemon: ${e.message}`);

export const volumeCreateCommand: Command = {
  name: 'volume create',
  usage: '[OPTIONS] [VOLUME]',
  summary: 'Create a volume',
  flags: [
    { names: ['driver', 'd'], kind: 'string' }, { names: ['name'], kind: 'string' },
    { names: ['opt', 'o'], kind: 'list' }, { names: ['label'], kind: 'list' },
  ],
  flagHelp: [
    '  -d, --driver string   Specify volume driver name (default "local")',
    '      --label list      Set metadata for a volume',
    '  -o, --opt map         Set driver specific options (default map[])',
  ].join('\n'),
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 0, 1);
    list(p, 'label').forEach(checkLabel);
    const labels = keyValues(list(p, 'label'));
    let name = str(p, 'name') ?? '';
    if (p.rest.length === 1) {
      if (name !== '') {
        ctx.stderr.write('conflicting options: either specify --name or provide positional arg, not both\n');
        return 1;
      }
      name = p.rest[0]!;
    }
    const v = await (await ctx.client()).post<Volume>('/volumes/create', undefined, {
      Driver: str(p, 'driver') ?? 'local', DriverOpts: keyValues(list(p, 'opt')), Name: name, Labels: labels,
    });
    ctx.stdout.write(`${v.Name}\n`);
    return 0;
  },
};

export const volumeLsCommand: Command = {
  name: 'volume ls',
  aliases: ['volume list'],
  usage: '[OPTIONS]',
  summary: 'List volumes',
  flags: [{ names: ['quiet', 'q'], kind: 'bool' }, { names: ['format'], kind: 'string' }, { names: ['filter', 'f'], kind: 'list' }],
  flagHelp: [
    '  -f, --filter filter   Provide filter values (e.g. \'dangling=true\')',
    '      --format string   Pretty-print volumes using a Go template',
    '  -q, --quiet           Only display volume names',
  ].join('\n'),
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 0, 0);
    const filters = filterFlags(list(p, 'filter'));
    const r = await (await ctx.client()).get<{ Volumes: Volume[] | null }>('/volumes', { filters: JSON.stringify(filters) });
    const vols = [...(r.Volumes ?? [])].sort((a, b) => naturalCompare(a.Name, b.Name));
    let format = str(p, 'format') ?? '';
    if (format === '' || format === 'table') format = bool(p, 'quiet') ? '{{.Name}}' : 'table {{.Driver}}\t{{.Name}}';
    if (format === 'json') format = '{{json .}}';
    ctx.stdout.write(renderFormat(format, vols.map(volumeRow), VOLUME_HEADERS));
    return 0;
  },
};

export const volumeInspectCommand: Command = {
  name: 'volume inspect',
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  summary: 'Display detailed information on one or more volumes',
  flags: [{ names: ['format', 'f'], kind: 'string' }],
  flagHelp: '  -f, --format string   Format the output using the given Go template',
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 1);
    const client = await ctx.client();
    return inspectEach(ctx, p.rest, str(p, 'format') ?? '', (name) => client.get<Volume>(`/volumes/${enc(name)}`), notFound);
  },
};

export const volumeRmCommand: Command = {
  name: 'volume rm',
  aliases: ['volume remove'],
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  summary: 'Remove one or more volumes',
  flags: [{ names: ['force', 'f'], kind: 'bool' }],
  flagHelp: '  -f, --force   Force the removal of one or more volumes',
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 1);
    const client = await ctx.client();
    const errors: string[] = [];
    for (const name of p.rest) {
      try {
        await client.call('DELETE', `/volumes/${enc(name)}`, { query: { force: bool(p, 'force') } }).then((res) => res.resume());
        ctx.stdout.write(`${name}\n`);
      } catch (e) {
        if (!(e instanceof DaemonError)) throw e;
        errors.push(notFound(e, name));
      }
    }
    if (errors.length > 0) ctx.stderr.write(`${errors.join('\n')}\n`);
    return errors.length > 0 ? 1 : 0;
  },
};

export const volumePruneCommand: Command = {
  name: 'volume prune',
  usage: '[OPTIONS]',
  summary: 'Remove all unused local volumes',
  flags: [{ names: ['force', 'f'], kind: 'bool' }, { names: ['filter'], kind: 'list' }],
  flagHelp: [
    '      --filter filter   Provide filter values (e.g. \'label=<label>\')',
    '  -f, --force           Do not prompt for confirmation',
  ].join('\n'),
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 0, 0);
    const filters = filterFlags(list(p, 'filter'), '--filter');
    let pruned = { space: 0, output: '' };
    if (bool(p, 'force') || await confirm(ctx, 'WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?')) {
      pruned = await pruneVolumes(await ctx.client(), filters);
    }
    writePruned(ctx.stdout, pruned);
    writeTotal(ctx.stdout, pruned.space);
    return 0;
  },
};
