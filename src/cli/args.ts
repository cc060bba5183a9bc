/**
 * A small parser for urfave/cli-style command lines as runc takes them: `-x`, `--x`, `--x=v`,
 * `--x v`, boolean flags, repeated flags; flags stop at the first positional argument (so that
 * `exec ID sh -c …` keeps its own dashes) or at `--`.
 */
export type FlagKind = 'bool' | 'string' | 'int' | 'list';

export interface FlagDef {
  names: string[];
  kind: FlagKind;
}

export type Parsed = { flags: Map<string, string | boolean | string[]>; rest: string[] };

export class UsageError extends Error {}

/**
 * An undefined flag; `typed` is the argument as given (`--x`, `-x`, `-qx`) and, for one dash,
 * `letter` the first letter of it no flag has: docker's words need them.
 */
export class UnknownFlagError extends UsageError {
  constructor(message: string, readonly typed: string, readonly letter?: string) {
    super(message);
  }
}

export function parseArgs(argv: readonly string[], defs: readonly FlagDef[], stopAtPositional = true): Parsed {
  const byName = new Map<string, FlagDef>();
  for (const d of defs) for (const n of d.names) byName.set(n, d);
  const flags = new Map<string, string | boolean | string[]>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      if (stopAtPositional) {
        rest.push(...argv.slice(i));
        break;
      }
      rest.push(a);
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const def = byName.get(name);
    if (!def) {
      // docker's combined short booleans: `-aq` is `-a -q`
      const letters = !a.startsWith('--') && eq < 0 && name.length > 1 ? [...name] : [];
      if (letters.length > 0 && letters.every((c) => byName.get(c)?.kind === 'bool')) {
        for (const c of letters) flags.set(byName.get(c)!.names[0]!, true);
        continue;
      }
      const typed = eq >= 0 ? a.slice(0, a.indexOf('=')) : a;
      throw new UnknownFlagError(`flag provided but not defined: -${name}`, typed, a.startsWith('--') ? undefined : [...name].find((c) => !byName.has(c)) ?? name[0]);
    }
    const key = def.names[0]!;
    if (def.kind === 'bool') {
      const v = eq >= 0 ? body.slice(eq + 1) : 'true';
      if (v !== 'true' && v !== 'false') throw new UsageError(`invalid boolean value "${v}" for -${name}`);
      flags.set(key, v === 'true');
      continue;
    }
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${name}`);
      value = argv[++i]!;
    }
    if (def.kind === 'int' && !/^-?\d+$/.test(value)) throw new UsageError(`invalid value "${value}" for flag -${name}: not an integer`);
    if (def.kind === 'list') {
      const prev = flags.get(key);
      flags.set(key, [...(Array.isArray(prev) ? prev : []), value]);
    } else flags.set(key, value);
  }
  return { flags, rest };
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function bool(p: Parsed, name: string): boolean {
  return p.flags.get(name) === true;
}

export function int(p: Parsed, name: string, def = 0): number {
  const v = p.flags.get(name);
  return typeof v === 'string' ? Number(v) : def;
}

export function list(p: Parsed, name: string): string[] {
  const v = p.flags.get(name);
  return Array.isArray(v) ? v : [];
}
