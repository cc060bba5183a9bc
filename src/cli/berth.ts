/**
 * berth: the engine's CLI, a client of berthd's Docker Engine API for every verb (src/cli/berth/
 * client.ts); `bundle create/rm` and `export BUNDLE` are berth extras working on the store
 * in-process.
 *   berth [-H unix:///PATH] [--root DIR] COMMAND [OPTIONS] ARGS...
 * The daemon: -H, else BERTH_HOST, else DOCKER_HOST, else unix://ROOT/run/berth.sock with --root,
 * else /run/berth/berth.sock; the last two are started when nothing answers (daemon.ts).
 * Commands live in src/cli/berth/ (one file each, listed in commands.ts); this file parses the
 * global flags, finds the command by its words (`pull`, `image ls`, `images`), parses its flags
 * (interspersed with its arguments, as docker's CLI takes them), and prints errors: a daemon's as
 * docker does (`Error response from daemon: MESSAGE`, exit 1, or 125 for run and create), berth's
 * own as `berth: what: where: why` (exit 1), usage errors with exit 2 (the container verbs: docker's
 * `unknown flag: --x` / `See 'berth run --help'.`, exit 125).
 */
import { DEFAULT_BERTH_ROOT, openStores, type BerthStores } from '../image/bundle/create.ts';
import { ConnectError, DaemonError, StreamError, type Client } from './berth/client.ts';
import { connectDaemon, daemonTarget } from './berth/daemon.ts';
import { parseArgs, str, bool, list, UsageError, type FlagDef } from './args.ts';
import { registryOptions } from './berth/registry-options.ts';
import type { Command, CommandContext } from './berth/command.ts';
import { COMMANDS } from './berth/commands.ts';
import { runWorkerIfAny, setUnpackWorkerEntry } from '../image/unpack/worker.ts';

const GLOBAL: FlagDef[] = [
  { names: ['host', 'H'], kind: 'string' },
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

usage: berth [-H unix:///PATH] [--root DIR] COMMAND [OPTIONS] ARGS...   (berth COMMAND --help for its options)

  -H, --host unix:///PATH          the berthd to talk to (also BERTH_HOST, then DOCKER_HOST;
                                   default unix:///run/berth/berth.sock, started when nothing answers)
  --root DIR                       a private berthd for the store DIR: its socket is unix://DIR/run/berth.sock,
                                   started with --data-root DIR --exec-root DIR/run when nothing answers
                                   (default store ${DEFAULT_BERTH_ROOT})
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
  let p: ReturnType<typeof parseArgs>;
  try {
    p = parseArgs(rest, [...command.flags, { names: ['help'], kind: 'bool' }], command.stopAtPositional ?? false);
  } catch (e) {
    if (e instanceof UsageError && command.failureStatus !== undefined) throw new DockerUsageError(dockerFlagMessage(e.message), command);
    throw e;
  }
  if (bool(p, 'help')) {
    process.stdout.write(commandUsage(command));
    return 0;
  }
  const root = str(g, 'root') ?? DEFAULT_BERTH_ROOT;
  let stores: Promise<BerthStores> | undefined;
  let client: Promise<Client> | undefined;
  const target = daemonTarget({ ...(str(g, 'host') !== undefined && { host: str(g, 'host')! }), ...(str(g, 'root') !== undefined && { root }), insecureRegistries: list(g, 'insecure-registry') });
  const ctx: CommandContext = {
    root,
    stores: () => (stores ??= openStores(root)),
    client: () => (client ??= connectDaemon(target, (line) => void process.stderr.write(`${line}\n`))),
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
    if (e instanceof UsageError && !(e instanceof CommandUsageError)) {
      if (command.failureStatus !== undefined) throw new DockerUsageError(e.message.replace(new RegExp(`^${command.name}: `), ''), command);
      throw new CommandUsageError(`${command.name}: ${e.message.replace(new RegExp(`^${command.name}: `), '')}`, command);
    }
    if (e instanceof DaemonError || e instanceof StreamError || e instanceof ConnectError) throw new CommandFailure(e, command.failureStatus ?? 1);
    if (command.failureStatus !== undefined && !(e instanceof CommandUsageError)) throw new CommandFailure(e as Error, command.failureStatus);
    throw e;
  }
}

class CommandUsageError extends UsageError {
  constructor(message: string, readonly command: Command) {
    super(message);
  }
}

/** docker's usage error: the message, `See 'berth CMD --help'.`, exit 125 */
class DockerUsageError extends CommandUsageError {}

/** A failure with docker's exit status and wording. */
class CommandFailure extends Error {
  constructor(readonly failure: Error, readonly status: number) {
    super(failure.message);
  }
}

/** parseArgs' message in the words of docker's flag parser (pflag). */
function dockerFlagMessage(m: string): string {
  const undef = /^flag provided but not defined: -(.*)$/.exec(m);
  if (undef) return undef[1]!.length === 1 ? `unknown shorthand flag: '${undef[1]}' in -${undef[1]}` : `unknown flag: --${undef[1]}`;
  const needs = /^flag needs an argument: -(.*)$/.exec(m);
  if (needs) return needs[1]!.length === 1 ? `flag needs an argument: '${needs[1]}' in -${needs[1]}` : `flag needs an argument: --${needs[1]}`;
  return m;
}

/** How docker's CLI prints an error (cli/command.StatusError and the client's wrapping). */
function failureText(e: Error): string {
  if (e instanceof DaemonError) return `Error response from daemon: ${e.message}`;
  if (e instanceof StreamError || e instanceof ConnectError) return e.message;
  return `berth: ${e.message}`;
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
      if (e instanceof DockerUsageError) {
        process.stderr.write(`${e.message}\nSee 'berth ${e.command.name} --help'.\n`);
        process.exitCode = 125;
        return;
      }
      if (e instanceof UsageError) {
        process.stderr.write(`berth: ${e.message}\n\n${e instanceof CommandUsageError ? commandUsage(e.command) : usage()}`);
        process.exitCode = 2;
        return;
      }
      if (e instanceof CommandFailure) {
        process.stderr.write(`${failureText(e.failure)}\n`);
        process.exitCode = e.status;
        return;
      }
      process.stderr.write(`berth: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
    );
}
