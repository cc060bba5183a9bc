/**
 * berth events: the daemon's event stream as docker 20.10 prints it, a line an event
 * (`TIME TYPE ACTION ID (k=v, ...)`) or --format's template run on each message; it streams until
 * the daemon ends it (--until) or the user interrupts.
 */
import { list, str } from '../args.ts';
import { Template, TemplateError, renderFormat } from '../format.ts';
import type { EventMessage } from '../../engine/events.ts';
import { responseLines } from './client.ts';
import { wantArgs } from './command.ts';
import type { Command } from './command.ts';
import { filterFlags } from './filters.ts';
import { timeArg } from './time-arg.ts';

const sortedEntries = (o: Record<string, string>): [string, string][] => Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * A message as docker's CLI decodes it (events.Message): templates see its Go field names
 * (`.Status`, `.ID`, `.TimeNano`), `json` gives the wire's names back (toJSON). TimeNano is a
 * bigint: a double cannot hold a nanosecond time and docker prints every digit.
 */
export class EventRow {
  Status: string;
  ID: string;
  From: string;
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  Scope: string;
  Time: number;
  TimeNano: bigint;

  constructor(m: EventMessage, timeNano: bigint) {
    this.Status = m.status ?? '';
    this.ID = m.id ?? '';
    this.From = m.from ?? '';
    this.Type = m.Type ?? '';
    this.Action = m.Action ?? '';
    this.Actor = { ID: m.Actor?.ID ?? '', Attributes: Object.fromEntries(sortedEntries(m.Actor?.Attributes ?? {})) };
    this.Scope = m.scope ?? '';
    this.Time = m.time ?? 0;
    this.TimeNano = timeNano;
  }

  /** the wire's shape, omitempty fields left out as Go's encoder does */
  toJSON(): Record<string, unknown> {
    return {
      ...(this.Status !== '' && { status: this.Status }),
      ...(this.ID !== '' && { id: this.ID }),
      ...(this.From !== '' && { from: this.From }),
      Type: this.Type,
      Action: this.Action,
      Actor: this.Actor,
      scope: this.Scope,
      ...(this.Time !== 0 && { time: this.Time }),
      ...(this.TimeNano !== 0n && { timeNano: this.TimeNano }),
    };
  }
}

/** Parses one line of the stream; timeNano from the text itself, all its digits. */
export function parseEventLine(line: string): EventRow {
  const m = JSON.parse(line) as EventMessage;
  const nano = /"timeNano"\s*:\s*(\d+)/.exec(line);
  return new EventRow(m, nano ? BigInt(nano[1]!) : BigInt(m.time ?? 0) * 1_000_000_000n);
}

/** Go's time.Format("2006-01-02T15:04:05.000000000Z07:00") of a nanosecond time, in local time. */
export function rfc3339NanoFixed(ns: bigint): string {
  const secs = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  const d = new Date(Number(secs) * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${p(Math.trunc(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${String(frac).padStart(9, '0')}${zone}`;
}

/** docker's prettyPrintEvent */
export function eventLine(e: EventRow): string {
  let out = '';
  if (e.TimeNano !== 0n) out += `${rfc3339NanoFixed(e.TimeNano)} `;
  else if (e.Time !== 0) out += `${rfc3339NanoFixed(BigInt(e.Time) * 1_000_000_000n)} `;
  out += `${e.Type} ${e.Action} ${e.Actor.ID}`;
  const attrs = sortedEntries(e.Actor.Attributes);
  if (attrs.length > 0) out += ` (${attrs.map(([k, v]) => `${k}=${v}`).join(', ')})`;
  return `${out}\n`;
}

export const eventsCommand: Command = {
  name: 'system events',
  aliases: ['events'],
  usage: '[OPTIONS]',
  summary: 'Get real time events from the server',
  flags: [{ names: ['filter', 'f'], kind: 'list' }, { names: ['format'], kind: 'string' }, { names: ['since'], kind: 'string' }, { names: ['until'], kind: 'string' }],
  flagHelp: [
    '  -f, --filter filter   Filter output based on conditions provided',
    '      --format string   Format the output using the given Go template',
    '      --since string    Show all events created since timestamp',
    '      --until string    Stream events until this timestamp',
  ].join('\n'),
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 0, 0);
    const filters = filterFlags(list(p, 'filter'));
    const format = str(p, 'format') ?? '';
    if (format !== '') {
      try {
        Template.parse(format);
      } catch (e) {
        // docker's status for a template it cannot parse
        if (!(e instanceof TemplateError)) throw e;
        ctx.stderr.write(`Error parsing format: ${e.message}\n`);
        return 64;
      }
    }
    const res = await (await ctx.client()).call('GET', '/events', {
      query: { since: timeArg(str(p, 'since'), 'since'), until: timeArg(str(p, 'until'), 'until'), filters: JSON.stringify(filters) },
    });
    const show = (line: string): void => {
      if (line.trim() === '') return;
      const e = parseEventLine(line);
      ctx.stdout.write(format === '' ? eventLine(e) : renderFormat(format, [e]));
    };
    for await (const line of responseLines(res, { tail: true })) show(line);
    return 0;
  },
};
