// berth history / image history: the steps that made an image, newest first.
import { UsageError, bool, str } from '../args.ts';
import { renderFormat } from '../format.ts';
import { createdSince, ellipsis, humanSizeWithPrecision } from '../units.ts';
import { shortId, type HistoryItem } from '../../image/images/index.ts';
import type { Command } from './command.ts';

export interface HistoryRow {
  ID: string;
  CreatedSince: string;
  CreatedAt: string;
  CreatedBy: string;
  Size: string;
  Comment: string;
}

const HEADERS: Record<keyof HistoryRow, string> = {
  ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT',
};
const FORMAT = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';

/** RFC 3339 in local time, seconds precision (Go's time.RFC3339). */
function rfc3339(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${p(Math.trunc(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${zone}`;
}

export function historyRow(h: HistoryItem, opts: { human: boolean; noTrunc: boolean }): HistoryRow {
  const by = h.CreatedBy.replace(/\t/g, ' ');
  return {
    ID: opts.noTrunc || h.Id === '<missing>' ? h.Id : shortId(h.Id),
    CreatedSince: opts.human ? createdSince(h.Created) : rfc3339(h.Created),
    CreatedAt: rfc3339(h.Created),
    CreatedBy: opts.noTrunc ? by : ellipsis(by, 45),
    Size: opts.human ? humanSizeWithPrecision(h.Size, 3) : String(h.Size),
    Comment: h.Comment,
  };
}

export const historyCommand: Command = {
  name: 'image history',
  aliases: ['history'],
  usage: '[OPTIONS] IMAGE',
  summary: 'Show the history of an image',
  flags: [
    { names: ['human', 'H'], kind: 'bool' },
    { names: ['no-trunc'], kind: 'bool' },
    { names: ['quiet', 'q'], kind: 'bool' },
    { names: ['format'], kind: 'string' },
  ],
  flagHelp: [
    '      --format string   Format output using a custom template (table, table TEMPLATE, json, or a Go template)',
    '  -H, --human           Print sizes and dates in human readable format (default true; -H=false for bytes and RFC 3339)',
    '      --no-trunc        Don\'t truncate output',
    '  -q, --quiet           Only show image IDs',
  ].join('\n'),
  async run(p, ctx) {
    if (p.rest.length !== 1) throw new UsageError('image history: want exactly one IMAGE');
    const items = await (await ctx.client()).get<HistoryItem[]>(`/images/${encodeURIComponent(p.rest[0]!)}/history`);
    const opts = { human: p.flags.get('human') !== false, noTrunc: bool(p, 'no-trunc') };
    let format = str(p, 'format');
    if (format === 'json') format = '{{json .}}';
    if (format === undefined || format === '' || format === 'table') format = FORMAT;
    if (bool(p, 'quiet')) format = '{{.ID}}';
    ctx.stdout.write(renderFormat(format, items.map((h) => historyRow(h, opts)), HEADERS));
    return 0;
  },
};
