/**
 * The shape of one `berth` command. Each command lives in its own file under src/cli/berth/ and
 * is listed in commands.ts; berth.ts parses the global flags, finds the command by its words
 * (`pull`, `image ls`, or an alias such as `images`), parses its flags and runs it.
 */
import type { FlagDef, Parsed } from '../args.ts';
import type { BerthStores, RegistryClientOptions } from '../../image/index.ts';
import type { Client } from './client.ts';
import { UsageError } from '../args.ts';

/**
 * A wrong number of arguments: docker's `"berth pull" requires exactly 1 argument.` with the
 * usage, exit 1 (cli.ExactArgs and friends in docker 20.10). The message is the part after the
 * command's name.
 */
export class ArgCountError extends UsageError {}

/**
 * A failure docker's CLI prints as it is, without `Error response from daemon:` (its own checks,
 * local file errors, the client's `Error: No such container:path: …`); exit 1.
 */
export class PlainFailure extends Error {}

/**
 * A flag's value that its parser refuses (docker's pflag Set errors): `invalid argument "x" for
 * "-f, --filter" flag: WHY` with `See 'berth CMD --help'.`, exit 125, whatever the command.
 */
export class FlagValueError extends UsageError {
  constructor(value: string, flag: string, why: string) {
    super(`invalid argument ${JSON.stringify(value)} for ${JSON.stringify(flag)} flag: ${why}`);
  }
}

const plural = (n: number): string => `${n} argument${n === 1 ? '' : 's'}`;

/** Throws docker's ArgCountError unless `rest` has between `min` and `max` (inclusive) arguments. */
export function wantArgs(rest: readonly string[], min: number, max = Infinity): void {
  if (rest.length >= min && rest.length <= max) return;
  if (max === 0) throw new ArgCountError('accepts no arguments.');
  if (min === max) throw new ArgCountError(`requires exactly ${plural(min)}.`);
  if (max === Infinity) throw new ArgCountError(`requires at least ${plural(min)}.`);
  if (min === 0) throw new ArgCountError(`requires at most ${plural(max)}.`);
  throw new ArgCountError(`requires at least ${min} and at most ${plural(max)}.`);
}

export interface Output {
  write(s: string | Uint8Array): unknown;
  /** true on a terminal: progress bars and tables may use it */
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface CommandContext {
  /** the berth root (--root, default /var/lib/berth): berth's in-process extras (bundles) use it */
  root: string;
  /** the root's stores, opened on first use (bundle commands only: berthd owns the store) */
  stores(): Promise<BerthStores>;
  /** the daemon's API client, connected (and the daemon started) on first use */
  client(): Promise<Client>;
  stdout: Output;
  stderr: Output;
  /** a line on stderr */
  log(line: string): void;
  /** credentials and insecure registries for registry clients (see registry-options.ts) */
  registry: RegistryClientOptions;
}

export interface Command {
  /** the words that name it: `pull`, `image ls`, `bundle create` */
  name: string;
  /** other names: `images` for `image ls` */
  aliases?: string[];
  /** what follows the name in the usage line: `[OPTIONS] NAME[:TAG|@DIGEST]` */
  usage: string;
  /** one line for `berth --help` */
  summary: string;
  flags: FlagDef[];
  /** flag help lines, printed under the usage */
  flagHelp?: string;
  /** flags end at the first positional argument (commands that take a command line) */
  stopAtPositional?: boolean;
  /** docker's status for the command's own failures (125 for run and create; 1 otherwise) */
  failureStatus?: number;
  run(args: Parsed, ctx: CommandContext): Promise<number>;
}
