// berth images / image ls: the images of the store, one row per name, as docker lists them.
import { UsageError, bool, list, str } from '../args.ts';
import { renderFormat } from '../format.ts';
import { createdSince, goTimeString, humanSizeWithPrecision } from '../units.ts';
import { type ImageFilters, type ImageSummary, parseReference, shortId } from '../../image/index.ts';
import { wantArgs } from './command.ts';
import type { Command } from './command.ts';

/** A row of the table: the fields docker's image formatter offers to --format. */
export interface ImageRow {
  ID: string;
  Repository: string;
  Tag: string;
  Digest: string;
  CreatedSince: string;
  CreatedAt: string;
  Size: string;
  Containers: string;
  SharedSize: string;
  UniqueSize: string;
  VirtualSize: string;
}

export const IMAGE_HEADERS: Record<keyof ImageRow, string> = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT',
  Size: 'SIZE', Containers: 'CONTAINERS', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', VirtualSize: 'VIRTUAL SIZE',
};
const FORMAT = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
const FORMAT_DIGESTS = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

/** docker's rows of one image: a row per tag (per tag and digest with --digests), digest-only repositories, or `<none>`. */
export function imageRows(img: ImageSummary, opts: { digests: boolean; noTrunc: boolean; now?: number }): ImageRow[] {
  const base = {
    ID: opts.noTrunc ? img.Id : shortId(img.Id),
    CreatedSince: createdSince(img.Created, opts.now),
    CreatedAt: goTimeString(img.Created),
    Size: humanSizeWithPrecision(img.Size, 3),
    Containers: img.Containers < 0 ? 'N/A' : String(img.Containers),
    SharedSize: img.SharedSize < 0 ? 'N/A' : humanSizeWithPrecision(img.SharedSize, 3),
    UniqueSize: img.SharedSize < 0 ? 'N/A' : humanSizeWithPrecision(img.Size - img.SharedSize, 3),
    VirtualSize: humanSizeWithPrecision(img.Size, 3),
  };
  const tags = new Map<string, string[]>();
  const digests = new Map<string, string[]>();
  for (const t of img.RepoTags) {
    const r = parseReference(t);
    const repo = r.familiarName();
    tags.set(repo, [...(tags.get(repo) ?? []), r.tag ?? '<none>']);
  }
  for (const d of img.RepoDigests) {
    const r = parseReference(d);
    const repo = r.familiarName();
    digests.set(repo, [...(digests.get(repo) ?? []), r.digest ?? '<none>']);
  }
  const rows: ImageRow[] = [];
  for (const repo of [...tags.keys()].sort()) {
    const ds = digests.get(repo) ?? [];
    digests.delete(repo);
    for (const tag of tags.get(repo)!.sort()) {
      if (!opts.digests || ds.length === 0) rows.push({ ...base, Repository: repo, Tag: tag, Digest: ds[0] ?? '<none>' });
      else for (const d of ds) rows.push({ ...base, Repository: repo, Tag: tag, Digest: d });
    }
  }
  for (const repo of [...digests.keys()].sort()) {
    const ds = digests.get(repo)!;
    if (opts.digests) for (const d of ds) rows.push({ ...base, Repository: repo, Tag: '<none>', Digest: d });
    else rows.push({ ...base, Repository: repo, Tag: '<none>', Digest: ds[0]! });
  }
  if (rows.length === 0) rows.push({ ...base, Repository: '<none>', Tag: '<none>', Digest: '<none>' });
  return rows;
}

/** `-f key=value` flags as the API's filter map. */
export function parseFilters(values: readonly string[]): ImageFilters {
  const out: Record<string, string[]> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UsageError(`bad format of filter (expected name=value): ${v}`);
    const k = v.slice(0, eq).trim().toLowerCase();
    (out[k] ??= []).push(v.slice(eq + 1));
  }
  return out as ImageFilters;
}

export const imagesCommand: Command = {
  name: 'image ls',
  aliases: ['images', 'image list'],
  usage: '[OPTIONS] [REPOSITORY[:TAG]]',
  summary: 'List images',
  flags: [
    { names: ['all', 'a'], kind: 'bool' },
    { names: ['quiet', 'q'], kind: 'bool' },
    { names: ['digests'], kind: 'bool' },
    { names: ['no-trunc'], kind: 'bool' },
    { names: ['format'], kind: 'string' },
    { names: ['filter', 'f'], kind: 'list' },
  ],
  flagHelp: [
    '  -a, --all             Show all images (berth keeps no intermediate images: the same list)',
    '      --digests         Show digests',
    '  -f, --filter filter   Filter output based on conditions provided (dangling=true|false, reference=PATTERN,',
    '                        label=KEY[=VALUE], before=IMAGE, since=IMAGE)',
    '      --format string   Format output using a custom template (table, table TEMPLATE, json, or a Go template)',
    '      --no-trunc        Don\'t truncate output',
    '  -q, --quiet           Only show image IDs',
  ].join('\n'),
  async run(p, ctx) {
    wantArgs(p.rest, 0, 1);
    const filters = parseFilters(list(p, 'filter'));
    if (p.rest[0] !== undefined) (filters.reference ??= []).push(p.rest[0]);
    const client = await ctx.client();
    const images = await client.get<ImageSummary[]>('/images/json', { all: bool(p, 'all'), filters: JSON.stringify(filters) });
    const opts = { digests: bool(p, 'digests'), noTrunc: bool(p, 'no-trunc') };
    let format = str(p, 'format');
    if (format === 'json') format = '{{json .}}';
    if (format === 'table' || format === undefined || format === '') format = opts.digests ? FORMAT_DIGESTS : FORMAT;
    if (bool(p, 'quiet')) format = '{{.ID}}';
    const rows = images.flatMap((img) => imageRows(img, opts));
    ctx.stdout.write(renderFormat(format, rows, IMAGE_HEADERS));
    return 0;
  },
};
