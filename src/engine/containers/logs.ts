/**
 * `docker logs`: the monitor's json-file log (rotated files oldest first, `<log>.N` … `<log>.1`,
 * then `<log>`), filtered by stream, --since/--until, --tail, with --timestamps, and followed
 * (-f) until the container exits. Entries go out as they were written: raw for a TTY, docker's
 * stdcopy frames otherwise (the route frames them: `onEntry`).
 */
import { open, readFile, stat } from 'node:fs/promises';

import { InvalidParameterError } from '../errors.ts';
import type { ContainerContext } from './context.ts';
import type { Loaded } from './store.ts';
import { isRunningStatus } from './types.ts';

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  log: string;
  time: string;
}

export interface LogsOptions {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  /** entries at the end; undefined: all */
  tail?: number;
  /** unix seconds (fractional) */
  since?: number;
  until?: number;
  timestamps: boolean;
}

/** docker's timestamp query values: unix seconds with an optional fraction, or RFC 3339; 0 is none. */
export function parseLogTime(v: string | null, what: string): number | undefined {
  if (v === null || v === '' || v === '0') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidParameterError(`invalid value for "${what}": ${JSON.stringify(v)}: want unix seconds or RFC 3339`);
  return t / 1000;
}

export function parseTail(v: string | null): number | undefined {
  if (v === null || v === '' || v === 'all') return undefined;
  if (!/^\d+$/.test(v)) throw new InvalidParameterError(`invalid value for "tail": ${JSON.stringify(v)}: want a number or "all"`);
  return Number(v);
}

/** seconds since the epoch of a log time, nanoseconds kept as a fraction */
function entrySeconds(t: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(t);
  if (!m) return Date.parse(t) / 1000;
  return Date.parse(`${m[1]}Z`) / 1000 + Number(`0${m[2] ?? ''}`);
}

function parseLines(text: string, out: LogEntry[]): void {
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const e = JSON.parse(line) as LogEntry;
      if (typeof e.log === 'string') out.push(e);
    } catch { /* a torn last line: the monitor is writing it */ }
  }
}

async function rotatedFiles(path: string): Promise<string[]> {
  const files: string[] = [];
  for (let n = 1; ; n++) {
    try {
      await stat(`${path}.${n}`);
      files.unshift(`${path}.${n}`);
    } catch {
      break;
    }
  }
  return [...files, path];
}

export async function readLogs(ctx: ContainerContext, l: Loaded, o: LogsOptions, onEntry: (e: LogEntry) => boolean | void, closed: () => boolean): Promise<void> {
  const path = l.rec.logPath;
  const wanted = (e: LogEntry): boolean => {
    if (e.stream === 'stdout' ? !o.stdout : !o.stderr) return false;
    const s = entrySeconds(e.time);
    if (o.since !== undefined && s < o.since) return false;
    if (o.until !== undefined && s > o.until) return false;
    return true;
  };
  // the running flag first: output written before the exit is in the files read next
  const running = isRunningStatus(l.rec.state.Status);
  const exited = o.follow && running ? ctx.nextExit(l.rec.id) : undefined;
  let entries: LogEntry[] = [];
  for (const f of await rotatedFiles(path)) {
    try {
      parseLines(await readFile(f, 'utf8'), entries);
    } catch { /* rotated away meanwhile, or not written yet */ }
  }
  entries = entries.filter(wanted);
  if (o.tail !== undefined) entries = o.tail === 0 ? [] : entries.slice(-o.tail);
  for (const e of entries) onEntry(e);
  if (!exited || (o.until !== undefined && o.until * 1000 <= Date.now())) return;

  // follow: read what the monitor appends, from where the current file ends now
  let offset = 0;
  let ino = 0;
  try {
    const st = await stat(path);
    offset = st.size;
    ino = st.ino;
  } catch { /* not there yet */ }
  let done = false;
  void exited.then(() => (done = true));
  let partial = '';
  const poll = async (): Promise<void> => {
    let st;
    try {
      st = await stat(path);
    } catch {
      return;
    }
    if (st.ino !== ino || st.size < offset) {
      // rotated: the rest of the old file is `.1` now; the new one starts at 0
      ino = st.ino;
      offset = 0;
      partial = '';
    }
    if (st.size <= offset) return;
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(st.size - offset);
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      offset += bytesRead;
      const text = partial + buf.subarray(0, bytesRead).toString('utf8');
      const cut = text.lastIndexOf('\n');
      partial = cut < 0 ? text : text.slice(cut + 1);
      const got: LogEntry[] = [];
      parseLines(cut < 0 ? '' : text.slice(0, cut + 1), got);
      for (const e of got) if (wanted(e)) onEntry(e);
    } finally {
      await fh.close();
    }
  };
  while (!closed()) {
    const finished = done;
    await poll();
    if (finished) return;
    if (o.until !== undefined && o.until * 1000 <= Date.now()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
