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
 * docker does (`Error response from daemon: MESSAGE`, exit 1, or 125 for run and create; an error
 * inside a progress stream as its bare message), berth's own as `berth: what: where: why` (exit 1),
 * and usage errors as docker 20.10's CLI: a flag error `unknown flag: --x` / `See 'berth pull
 * --help'.` exit 125; a wrong number of arguments `"berth pull" requires exactly 1 argument.`, its
 * `See` line and usage, exit 1; a bad option value of run/create as a flag error (125), of the
 * other verbs as a plain failure (exit 1).
 */
import { type BerthStores, DEFAULT_BERTH_ROOT, openStores, runWorkerIfAny, setUnpackWorkerEntry } from '../image/index.ts';
import { ConnectError, DaemonError, StreamError, type Client } from './berth/client.ts';
import { connectDaemon, daemonTarget } from './berth/daemon.ts';
import { parseArgs, str, bool, list, UnknownFlagError, UsageError, type FlagDef } from './args.ts';
import { registryOptions } from './berth/registry-options.ts';
import { ArgCountError, FlagValueError, PlainFailure, type Command, type CommandContext } from './berth/command.ts';
import { COMMANDS } from './berth/commands.ts';

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
  const { command: matched, rest } = found;
  // messages name the command as it was typed (`berth tag`, `berth image tag`), as docker's do
  const command: Command = { ...matched, name: words.slice(0, words.length - rest.length).join(' ') };
  let p: ReturnType<typeof parseArgs>;
  try {
    p = parseArgs(rest, [...command.flags, { names: ['help'], kind: 'bool' }], command.stopAtPositional ?? false);
  } catch (e) {
    // docker's FlagErrorFunc: every command's flag errors are `MSG\nSee 'docker CMD --help'.`, 125
    if (e instanceof UsageError) throw new DockerUsageError(dockerFlagMessage(e), command);
    throw e;
  }
  if (bool(p, 'help')) {
    process.stdout.write(commandUsage(command));
    return 0;
  }
  const root = str(g, 'root') ?? DEFAULT_BERTH_ROOT;
  let stores: Promise<BerthStores> | undefined;
  let client: Promise<Client> | undefined;
  let registry: CommandContext['registry'] | undefined;
  const target = daemonTarget({ ...(str(g, 'host') !== undefined && { host: str(g, 'host')! }), ...(str(g, 'root') !== undefined && { root }), insecureRegistries: list(g, 'insecure-registry') });
  const ctx: CommandContext = {
    root,
    stores: () => (stores ??= openStores(root)),
    client: () => (client ??= connectDaemon(target, (line) => void process.stderr.write(`${line}\n`))),
    stdout: process.stdout,
    stderr: process.stderr,
    log: (line) => void process.stderr.write(`${line}\n`),
    // read on use only: berthd reaches registries for every verb but the in-process bundle create,
    // so a setting only the daemon reads (BERTH_REGISTRY_STALL_TIMEOUT) fails no other command here
    get registry() {
      return (registry ??= {
        ...registryOptions(list(g, 'insecure-registry')),
        // a stalled or failing registry is retried: the user sees why the pull is slow
        onRetry: (m) => void process.stderr.write(`berth: ${m}\n`),
      });
    },
  };
  try {
    return await command.run(p, ctx);
  } catch (e) {
    if (e instanceof ArgCountError) throw new ArgCountFailure(e.message, command);
    if (e instanceof FlagValueError) throw new DockerUsageError(e.message, command);
    if (e instanceof UsageError && !(e instanceof CommandUsageError)) {
      // run and create report their option errors as a flag error (125); the other verbs'
      // checks of their options are plain failures, as docker's RunE errors are (exit 1)
      if (command.failureStatus === 125) throw new DockerUsageError(e.message, command);
      throw new CommandFailure(new PlainError(e.message), 1);
    }
    if (e instanceof DaemonError || e instanceof StreamError || e instanceof ConnectError || e instanceof PlainFailure) throw new CommandFailure(e, command.failureStatus ?? 1);
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

/** docker's wrong-number-of-arguments error (cli/required.go): with the usage line, exit 1 */
class ArgCountFailure extends CommandUsageError {}

/** An error docker prints as its bare message. */
class PlainError extends Error {}

/** A failure with docker's exit status and wording. */
class CommandFailure extends Error {
  constructor(readonly failure: Error, readonly status: number) {
    super(failure.message);
  }
}

/** parseArgs' message in the words of docker's flag parser (pflag). */
function dockerFlagMessage(e: UsageError): string {
  const m = e.message;
  if (e instanceof UnknownFlagError) {
    if (e.typed.startsWith('--')) return `unknown flag: ${e.typed}`;
    // pflag names the first letter of a shorthand group it does not know
    return `unknown shorthand flag: '${e.letter ?? e.typed.slice(1, 2)}' in ${e.typed}`;
  }
  const undef = /^flag provided but not defined: -(.*)$/.exec(m);
  if (undef) return undef[1]!.length === 1 ? `unknown shorthand flag: '${undef[1]}' in -${undef[1]}` : `unknown flag: --${undef[1]}`;
  const needs = /^flag needs an argument: -(.*)$/.exec(m);
  if (needs) return needs[1]!.length === 1 ? `flag needs an argument: '${needs[1]}' in -${needs[1]}` : `flag needs an argument: --${needs[1]}`;
  return m;
}

/** How docker's CLI prints an error (cli/command.StatusError and the client's wrapping). */
function failureText(e: Error): string {
  if (e instanceof DaemonError) return `Error response from daemon: ${e.message}`;
  if (e instanceof StreamError || e instanceof ConnectError || e instanceof PlainError || e instanceof PlainFailure) return e.message;
  return `berth: ${e.message}`;
}

if (!runWorkerIfAny()) {
  // Layers are unpacked in worker threads running this same file (src/image/unpack/worker.ts):
  // the built bundle only; from the TypeScript sources (tsx) workers would lack the loader.
  const self = process.argv[1];
  setUnpackWorkerEntry(self !== undefined && !self.endsWith('.ts') ? self : undefined);
  // a reader that stopped reading (`berth ... | head`) ends us quietly, as it ends docker
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      if (e instanceof ArgCountFailure) {
        const c = e.command;
        process.stderr.write(`"berth ${c.name}" ${e.message}\nSee 'berth ${c.name} --help'.\n\nUsage:  berth ${c.name} ${c.usage}\n\n${c.summary}\n`);
        process.exitCode = 1;
        return;
      }
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
