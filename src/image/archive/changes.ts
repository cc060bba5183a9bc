/**
 * `docker import --change` / `docker commit --change`: Dockerfile instructions applied to an
 * image config. The ones docker accepts there: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD,
 * STOPSIGNAL, USER, VOLUME, WORKDIR. Forms as in a Dockerfile: CMD/ENTRYPOINT/VOLUME take a
 * JSON array or a shell form (CMD/ENTRYPOINT wrapped in `/bin/sh -c`); ENV/LABEL take
 * `k=v k2="v 2"` or the legacy `k v…`; a relative WORKDIR is joined to the previous one.
 */
import { posix } from 'node:path';
import { ArchiveError } from './errors.ts';

/** The image config's `config` object, the fields --change can set. */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  OnBuild?: string[];
}

/**
 * Splits `s` into words as a Dockerfile's ENV/LABEL do: whitespace separates, "double" and
 * 'single' quotes group and are removed, a backslash escapes the next character (not inside
 * single quotes).
 */
export function splitWords(s: string, where: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
      continue;
    }
    if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === '"' || c === "'") quote = c;
    else if (c === '\\' && i + 1 < s.length) cur += s[++i];
    else cur += c;
  }
  if (quote) throw new ArchiveError(`${where}: unterminated ${quote} quote`);
  if (inWord) words.push(cur);
  return words;
}

/** A JSON array of strings (the exec form), or undefined when `s` is not one. */
function jsonForm(s: string, where: string): string[] | undefined {
  if (!s.startsWith('[')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    return undefined; // docker too falls back to the shell form
  }
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ArchiveError(`${where}: a JSON form must be an array of strings`);
  return v as string[];
}

/** `k=v …` pairs, or the legacy `k v…` (one pair, the value the rest of the line). */
function pairs(rest: string, where: string): [string, string][] {
  const words = splitWords(rest, where);
  if (words.length === 0) throw new ArchiveError(`${where}: needs at least one argument`);
  if (!words[0]!.includes('=')) {
    if (words.length < 2) throw new ArchiveError(`${where}: needs a value (NAME VALUE or NAME=VALUE)`);
    const m = /^\s*\S+\s+([\s\S]*)$/.exec(rest);
    return [[words[0]!, splitWords(m?.[1] ?? '', where).join(' ')]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new ArchiveError(`${where}: ${JSON.stringify(w)} is not NAME=VALUE`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

function ports(words: string[], where: string): string[] {
  const out: string[] = [];
  for (const w of words) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
    if (!m) throw new ArchiveError(`${where}: invalid port ${JSON.stringify(w)} (want PORT[-PORT][/tcp|udp|sctp])`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 0 || hi > 65535 || hi < lo) throw new ArchiveError(`${where}: invalid port range ${JSON.stringify(w)}`);
    for (let p = lo; p <= hi; p++) out.push(`${p}/${(m[3] ?? 'tcp').toLowerCase()}`);
  }
  return out;
}

/** Applies the --change instructions, in order, to a copy of `base`. */
export function applyChanges(base: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const c: ContainerConfig = structuredClone(base);
  let cmdSet = false;
  for (const change of changes) {
    const m = /^\s*(\S+)\s*([\s\S]*?)\s*$/.exec(change);
    if (!m || m[1] === '') throw new ArchiveError('--change: empty instruction');
    const instr = m[1]!.toUpperCase();
    const rest = m[2]!;
    const where = `--change ${JSON.stringify(change)}`;
    const cmdLike = (): string[] => jsonForm(rest, where) ?? ['/bin/sh', '-c', rest];
    switch (instr) {
      case 'CMD':
        c.Cmd = cmdLike();
        cmdSet = true;
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = rest === '' ? null : cmdLike();
        if (!cmdSet) c.Cmd = null; // as the builder does: an ENTRYPOINT drops an inherited CMD
        break;
      case 'ENV': {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of pairs(rest, where)) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case 'LABEL':
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(pairs(rest, where)) };
        break;
      case 'EXPOSE':
        c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
        for (const p of ports(splitWords(rest, where), where)) c.ExposedPorts[p] = {};
        break;
      case 'VOLUME': {
        const vols = jsonForm(rest, where) ?? splitWords(rest, where);
        if (vols.length === 0 || vols.some((v) => v === '')) throw new ArchiveError(`${where}: needs at least one path`);
        c.Volumes = { ...(c.Volumes ?? {}) };
        for (const v of vols) c.Volumes[v] = {};
        break;
      }
      case 'WORKDIR':
        if (rest === '') throw new ArchiveError(`${where}: needs a path`);
        c.WorkingDir = posix.resolve(c.WorkingDir || '/', rest);
        break;
      case 'USER':
        if (rest === '') throw new ArchiveError(`${where}: needs a user`);
        c.User = rest;
        break;
      case 'STOPSIGNAL':
        if (!/^(SIG)?[A-Z0-9+-]+$/i.test(rest)) throw new ArchiveError(`${where}: invalid signal ${JSON.stringify(rest)}`);
        c.StopSignal = rest;
        break;
      case 'ONBUILD':
        if (rest === '') throw new ArchiveError(`${where}: needs an instruction`);
        c.OnBuild = [...(c.OnBuild ?? []), rest];
        break;
      default:
        throw new ArchiveError(`${where}: ${instr} is not a valid change command (want CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME or WORKDIR)`);
    }
  }
  return c;
}
