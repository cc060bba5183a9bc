/**
 * The shape of one `berth` command. Each command lives in its own file under src/cli/berth/ and
 * is listed in commands.ts; berth.ts parses the global flags, finds the command by its words
 * (`pull`, `image ls`, or an alias such as `images`), parses its flags and runs it.
 */
import type { FlagDef, Parsed } from '../args.ts';
import type { BerthStores } from '../../image/bundle/create.ts';
import type { RegistryClientOptions } from '../../image/registry/client.ts';
import type { Client } from './client.ts';

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
