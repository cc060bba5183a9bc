/**
 * berth: the engine's CLI. Until berthd exists, the image commands call src/image in-process.
 *   berth [--root DIR] COMMAND [OPTIONS] ARGS...
 * Commands live in src/cli/berth/ (one file each, listed in commands.ts); this file parses the
 * global flags, finds the command by its words (`pull`, `image ls`, `images`), parses its flags
 * (interspersed with its arguments, as docker's CLI takes them), and prints errors as
 * `berth: what: where: why`, exiting 1 on failure and 2 on a usage error (docker uses 125 for
 * its own errors; 2 is kept for usage errors, as every other berth tool does).
 */
import { DEFAULT_BERTH_ROOT, openStores, type BerthStores } from '../image/bundle/create.ts';
import { parseArgs, str, bool, list, UsageError, type FlagDef } from './args.ts';
import { registryOptions } from './berth/registry-options.ts';
import type { Command, CommandContext } from './berth/command.ts';
import { COMMANDS } from './berth/commands.ts';
import { runWorkerIfAny, setUnpackWorkerEntry } from '../image/unpack/worker.ts';

const GLOBAL: FlagDef[] = [
  { names: ['root'], kind: 'string' },
  { names: ['insecure-registry'], kind: 'list' },
  { names: ['help', 'h'], kind: 'bool' },
];

function usage(): string {
  const lines = COMMANDS.map((c) => {
    const names = [c.name, ...(c.aliases ?? [])].join(', ');
    return `  ${names.padEnd(34)} ${c.summary}`;
  });
  return `berth — a container engine

usage: berth [--root DIR] COMMAND [OPTIONS] ARGS...   (berth COMMAND --help for its options)

  --root DIR                       the store (default ${DEFAULT_BERTH_ROOT})
  --insecure-registry HOST[:PORT]  also reach this registry over plain HTTP (loopback ones always may;
                                   also "insecure-registries" in /etc/berth/daemon.json)

commands:
${lines.join('\n')}
`;
}

const commandUsage = (c: Command): string => `usage: berth ${c.name} ${c.usage}\n\n${c.summary}\n${c.flagHelp ? `\n${c.flagHelp}\n` : ''}`;

/** Finds the command named by the first one or two words of `words`. */
function findCommand(words: readonly string[]): { command: Command; rest: string[] } | undefined {
  for (const n of [2, 1]) {
    if (words.length < n) continue;
    const name = words.slice(0, n).join(' ');
    const command = COMMANDS.find((c) => c.name === name || (c.aliases ?? []).includes(name));
    if (command) return { command, rest: words.slice(n) };
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  const g = parseArgs(argv, GLOBAL);
  const words = g.rest;
  if (words[0] === '__warm') return 0; // build time: nothing to compile ahead of time beyond loading
  if (words.length === 0 || bool(g, 'help') || words[0] === 'help') {
    process.stdout.write(usage());
    return words.length === 0 && !bool(g, 'help') ? 2 : 0;
  }
  const found = findCommand(words);
  if (!found) {
    const subs = COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])]).filter((n) => n.startsWith(`${words[0]} `));
    if (subs.length > 0) {
      throw new UsageError(`${words[0]}: unknown subcommand ${JSON.stringify(words[1] ?? '')} (want ${subs.map((n) => n.split(' ')[1]).join(', ')})`);
    }
    throw new UsageError(`unknown command ${JSON.stringify(words[0])}`);
  }
  const { command, rest } = found;
  const p = parseArgs(rest, [...command.flags, { names: ['help'], kind: 'bool' }], command.stopAtPositional ?? false);
  if (bool(p, 'help')) {
    process.stdout.write(commandUsage(command));
    return 0;
  }
  const root = str(g, 'root') ?? DEFAULT_BERTH_ROOT;
  let stores: Promise<BerthStores> | undefined;
  const ctx: CommandContext = {
    root,
    stores: () => (stores ??= openStores(root)),
    stdout: process.stdout,
    stderr: process.stderr,
    log: (line) => void process.stderr.write(`${line}\n`),
    registry: {
      ...registryOptions(list(g, 'insecure-registry')),
      // a stalled or failing registry is retried: the user sees why the pull is slow
      onRetry: (m) => void process.stderr.write(`berth: ${m}\n`),
    },
  };
  try {
    return await command.run(p, ctx);
  } catch (e) {
    if (e instanceof UsageError) throw new CommandUsageError(`${command.name}: ${e.message.replace(new RegExp(`^${command.name}: `), '')}`, command);
    throw e;
  }
}

class CommandUsageError extends UsageError {
  constructor(message: string, readonly command: Command) {
    super(message);
  }
}

if (!runWorkerIfAny()) {
  // Layers are unpacked in worker threads running this same file (src/image/unpack/worker.ts):
  // the built bundle only; from the TypeScript sources (tsx) workers would lack the loader.
  const self = process.argv[1];
  setUnpackWorkerEntry(self !== undefined && !self.endsWith('.ts') ? self : undefined);
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      if (e instanceof UsageError) {
        process.stderr.write(`berth: ${e.message}\n\n${e instanceof CommandUsageError ? commandUsage(e.command) : usage()}`);
        process.exitCode = 2;
        return;
      }
      process.stderr.write(`berth: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
    );
}
