/**
 * berth system df and system prune, as docker 20.10 words them: df's summary table (or with -v
 * each kind's own table) from `GET /system/df`; prune removes stopped containers, unused
 * networks, (with --volumes) unused volumes, dangling (with -a all unused) images and the build
 * cache, each report as `docker system prune` prints it.
 */
import { bool, list, str } from '../args.ts';
import { renderFormat } from '../format.ts';
import { humanDuration, humanSize } from '../units.ts';
import { shortId, type ImageSummary } from '../../image/index.ts';
import type { Volume } from '../../engine/volumes/index.ts';
import type { Client } from './client.ts';
import { wantArgs } from './command.ts';
import type { Command } from './command.ts';
import { confirm } from './confirm.ts';
import { PS_HEADERS, psRow, type ContainerSummary } from './containers.ts';
import { filterFlags } from './filters.ts';
import { IMAGE_HEADERS, imageRows } from './images.ts';
import { pruneBuildCache, pruneContainers, pruneImages, pruneNetworks, pruneVolumes, writePruned, writeTotal, type Filters, type Pruned } from './prune-reports.ts';
import { VOLUME_HEADERS, volumeRow } from './volumes.ts';

type DfImage = ImageSummary & { VirtualSize?: number };

interface DiskUsage {
  LayersSize: number;
  Images: DfImage[] | null;
  Containers: ContainerSummary[] | null;
  Volumes: Volume[] | null;
  BuildCache: { Size: number; Shared: boolean; InUse: boolean }[] | null;
}

/** A row of the summary, fields in JSON's sorted order. */
interface DfRow {
  Active: string;
  Reclaimable: string;
  Size: string;
  TotalCount: string;
  Type: string;
}

const DF_HEADERS: Record<keyof DfRow, string> = { Active: 'ACTIVE', Reclaimable: 'RECLAIMABLE', Size: 'SIZE', TotalCount: 'TOTAL', Type: 'TYPE' };

/** `1.2MB (50%)`: the share in whole percent, as Go's integer division gives it */
const share = (part: number, total: number): string => (total > 0 ? `${humanSize(part)} (${Math.trunc((part * 100) / total)}%)` : humanSize(part));

const activeState = (s: string): boolean => s.includes('running') || s.includes('paused') || s.includes('restarting');

function summary(du: DiskUsage): DfRow[] {
  const images = du.Images ?? [];
  const ctrs = du.Containers ?? [];
  const vols = du.Volumes ?? [];
  const cache = du.BuildCache ?? [];
  let imagesUsed = 0;
  for (const i of images) {
    if (i.Containers === 0 || (i.VirtualSize ?? i.Size) === -1 || i.SharedSize === -1) continue;
    imagesUsed += (i.VirtualSize ?? i.Size) - i.SharedSize;
  }
  const ctrSize = ctrs.reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const ctrFree = ctrs.filter((c) => !activeState(c.State)).reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const sized = vols.filter((v) => v.UsageData && v.UsageData.Size !== -1);
  const volSize = sized.reduce((n, v) => n + v.UsageData!.Size, 0);
  const volFree = sized.filter((v) => v.UsageData!.RefCount === 0).reduce((n, v) => n + v.UsageData!.Size, 0);
  const cacheSize = cache.filter((b) => !b.Shared).reduce((n, b) => n + b.Size, 0);
  const cacheInUse = cache.filter((b) => b.InUse && !b.Shared).reduce((n, b) => n + b.Size, 0);
  return [
    { Active: String(images.filter((i) => i.Containers > 0).length), Reclaimable: share(du.LayersSize - imagesUsed, du.LayersSize), Size: humanSize(du.LayersSize), TotalCount: String(images.length), Type: 'Images' },
    { Active: String(ctrs.filter((c) => activeState(c.State)).length), Reclaimable: share(ctrFree, ctrSize), Size: humanSize(ctrSize), TotalCount: String(ctrs.length), Type: 'Containers' },
    { Active: String(vols.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length), Reclaimable: share(volFree, volSize), Size: humanSize(volSize), TotalCount: String(vols.length), Type: 'Local Volumes' },
    { Active: String(cache.filter((b) => b.InUse).length), Reclaimable: humanSize(cacheSize - cacheInUse), Size: humanSize(cacheSize), TotalCount: String(cache.length), Type: 'Build Cache' },
  ];
}

const BUILD_CACHE_HEADERS = {
  ID: 'CACHE ID', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', UsageCount: 'USAGE', Shared: 'SHARED',
};

/**
 * An image row of df -v (docker's imageContext there): named by its first tag, sizes in
 * HumanSize's four digits, CREATED counted from the epoch even for an image without a date.
 */
function dfImageRow(i: DfImage): Record<string, string> {
  const first = i.RepoTags[0];
  const named = first !== undefined && first !== '<none>:<none>' ? imageRows({ ...i, RepoTags: [first], RepoDigests: [] }, { digests: false, noTrunc: false })[0] : undefined;
  const virtual = i.VirtualSize ?? i.Size;
  return {
    Repository: named?.Repository ?? '<none>',
    Tag: named?.Tag ?? '<none>',
    ID: shortId(i.Id),
    CreatedSince: `${humanDuration(Date.now() - i.Created * 1000)} ago`,
    VirtualSize: humanSize(virtual),
    SharedSize: i.SharedSize === -1 ? 'N/A' : humanSize(i.SharedSize),
    UniqueSize: virtual === -1 || i.SharedSize === -1 ? 'N/A' : humanSize(virtual - i.SharedSize),
    Containers: i.Containers === -1 ? 'N/A' : String(i.Containers),
  };
}

/** -v: each kind's rows as docker's verbose df shows them (images by their first name, sizes without the virtual part) */
function verboseRows(du: DiskUsage): { Images: unknown[]; Containers: unknown[]; Volumes: unknown[]; BuildCache: unknown[] } {
  return {
    Images: (du.Images ?? []).map(dfImageRow),
    Containers: (du.Containers ?? []).map((c) => ({
      ...psRow({ ...c, SizeRootFs: 0 }, false),
      LocalVolumes: String((c.Mounts ?? []).filter((m) => (m as { Driver?: string }).Driver === 'local').length),
    })),
    Volumes: (du.Volumes ?? []).map(volumeRow),
    BuildCache: [],
  };
}

function verboseTables(du: DiskUsage): string {
  const rows = verboseRows(du);
  const cacheSize = (du.BuildCache ?? []).filter((b) => !b.Shared).reduce((n, b) => n + b.Size, 0);
  return [
    'Images space usage:\n\n',
    renderFormat('table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.VirtualSize}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}', rows.Images, { ...IMAGE_HEADERS, VirtualSize: 'SIZE' }),
    '\nContainers space usage:\n\n',
    renderFormat('table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}', rows.Containers, { ...PS_HEADERS, LocalVolumes: 'LOCAL VOLUMES' }),
    '\nLocal Volumes space usage:\n\n',
    renderFormat('table {{.Name}}\t{{.Links}}\t{{.Size}}', rows.Volumes, VOLUME_HEADERS),
    `\nBuild cache usage: ${humanSize(cacheSize)}\n\n`,
    renderFormat('table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}', rows.BuildCache, BUILD_CACHE_HEADERS),
  ].join('');
}

export const systemDfCommand: Command = {
  name: 'system df',
  usage: '[OPTIONS]',
  summary: 'Show berth disk usage',
  flags: [{ names: ['format'], kind: 'string' }, { names: ['verbose', 'v'], kind: 'bool' }],
  flagHelp: [
    '      --format string   Pretty-print images using a Go template',
    '  -v, --verbose         Show detailed information on space usage',
  ].join('\n'),
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 0, 0);
    const du = await (await ctx.client()).get<DiskUsage>('/system/df');
    const format = str(p, 'format') ?? '';
    const table = format === '' || format === 'table';
    if (bool(p, 'verbose')) ctx.stdout.write(table ? verboseTables(du) : renderFormat(format, [verboseRows(du)]));
    else ctx.stdout.write(renderFormat(table ? 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}' : format === 'json' ? '{{json .}}' : format, summary(du), DF_HEADERS));
    return 0;
  },
};

/** docker system prune's question: what goes, and the filters that narrow it */
function pruneQuestion(all: boolean, volumes: boolean, filters: Filters): string {
  const warnings = [
    'all stopped containers',
    'all networks not used by at least one container',
    ...(volumes ? ['all volumes not used by at least one container'] : []),
    all ? 'all images without at least one container associated to them' : 'all dangling images',
    all ? 'all build cache' : 'all dangling build cache',
  ];
  const shown = ['label', 'label!', 'until'].flatMap((k) => (filters[k] ?? []).map((v) => `${k}=${v}`)).sort();
  let text = `WARNING! This will remove:${warnings.map((w) => `\n  - ${w}`).join('')}\n`;
  if (shown.length > 0) text += `\n  Items to be pruned will be filtered with:${shown.map((f) => `\n  - ${f}`).join('')}\n`;
  return `${text}\nAre you sure you want to continue?`;
}

export const systemPruneCommand: Command = {
  name: 'system prune',
  usage: '[OPTIONS]',
  summary: 'Remove unused data',
  flags: [{ names: ['all', 'a'], kind: 'bool' }, { names: ['filter'], kind: 'list' }, { names: ['force', 'f'], kind: 'bool' }, { names: ['volumes'], kind: 'bool' }],
  flagHelp: [
    '  -a, --all             Remove all unused images not just dangling ones',
    '      --filter filter   Provide filter values (e.g. \'label=<key>=<value>\')',
    '  -f, --force           Do not prompt for confirmation',
    '      --volumes         Prune volumes',
  ].join('\n'),
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 0, 0);
    const filters = filterFlags(list(p, 'filter'), '--filter');
    const all = bool(p, 'all');
    const volumes = bool(p, 'volumes');
    if (volumes && filters.until !== undefined) {
      ctx.stderr.write('ERROR: The "until" filter is not supported with "--volumes"\n');
      return 1;
    }
    if (!bool(p, 'force') && !(await confirm(ctx, pruneQuestion(all, volumes, filters)))) return 0;
    const client = await ctx.client();
    const steps: ((c: Client) => Promise<Pruned>)[] = [
      (c) => pruneContainers(c, filters),
      (c) => pruneNetworks(c, filters),
      ...(volumes ? [(c: Client) => pruneVolumes(c, filters)] : []),
      (c) => pruneImages(c, filters, all),
      (c) => pruneBuildCache(c, filters, all),
    ];
    let space = 0;
    for (const step of steps) {
      const r = await step(client);
      space += r.space;
      writePruned(ctx.stdout, r);
    }
    writeTotal(ctx.stdout, space);
    return 0;
  },
};
