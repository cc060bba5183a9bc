/**
 * The shape of one `berth` command. Each command lives in its own file under src/cli/berth/ and
 * is listed in commands.ts; berth.ts parses the global flags, finds the command by its words
 * (`pull`, `image ls`, or an alias such as `images`), parses its flags and runs it.
 */
import type { FlagDef, Parsed } from '../args.ts';
import type { BerthStores } from '../../image/bundle/create.ts';
import type { RegistryClientOptions } from '../../image/registry/client.ts';

export interface Output {
  write(s: string): unknown;
  /** true on a terminal: progress bars and tables may use it */
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface CommandContext {
  /** the berth root (--root, default /var/lib/berth) */
  root: string;
  /** the root's stores, opened on first use */
  stores(): Promise<BerthStores>;
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
  run(args: Parsed, ctx: CommandContext): Promise<number>;
}
