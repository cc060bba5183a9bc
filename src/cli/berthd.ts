/**
 * berthd: the berth daemon. Serves the Docker Engine API v1.41 on unix sockets, owns the data
 * root (images, containers) and the exec root (sockets, pid file, runtime state).
 *   berthd [-H unix:///run/berth/berth.sock] [--data-root DIR] [--exec-root DIR] [--config-file FILE]
 *          [--insecure-registry HOST[:PORT]] [--debug] [--log-level LEVEL] [--group NAME]
 * Runs in the foreground, logging to stderr; SIGTERM or SIGINT stops it (exit 0).
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

import { ApiServer, groupId } from '../api/server.ts';
import { BUILTIN_RUNTIME, Engine } from '../engine/engine.ts';
import { streamLogger, type Logger } from '../engine/log.ts';
import { BERTH_VERSION, GIT_COMMIT } from '../engine/version.ts';
import { runWorkerIfAny, setUnpackWorkerEntry } from '../image/index.ts';
import { UsageError, bool, list, parseArgs, str, type FlagDef } from './args.ts';
import { DEFAULT_CONFIG_FILE, DEFAULT_DATA_ROOT, DEFAULT_EXEC_ROOT, DEFAULT_SOCKET, DaemonConfigError, loadDaemonConfig, type DaemonFlags } from './daemon-config.ts';
import { watchLoopDelay } from './loop-delay.ts';
import { AlreadyRunningError, acquirePidFile, socketAnswers } from './pidfile.ts';

const FLAGS: FlagDef[] = [
  { names: ['host', 'H'], kind: 'list' },
  { names: ['data-root'], kind: 'string' },
  { names: ['exec-root'], kind: 'string' },
  { names: ['config-file'], kind: 'string' },
  { names: ['insecure-registry'], kind: 'list' },
  { names: ['default-runtime'], kind: 'string' },
  { names: ['debug', 'D'], kind: 'bool' },
  { names: ['log-level', 'l'], kind: 'string' },
  { names: ['group', 'G'], kind: 'string' },
  { names: ['version', 'v'], kind: 'bool' },
  { names: ['help', 'h'], kind: 'bool' },
];

const USAGE = `usage: berthd [OPTIONS]

A container engine: serves the Docker Engine API v1.41 on a unix socket.

  -H, --host unix:///PATH          socket to listen on, repeatable (default unix://${DEFAULT_SOCKET})
      --data-root DIR              images and containers (default ${DEFAULT_DATA_ROOT})
      --exec-root DIR              sockets, pid file, runtime state (default ${DEFAULT_EXEC_ROOT})
      --config-file FILE           daemon configuration (default ${DEFAULT_CONFIG_FILE})
      --insecure-registry HOST[:PORT]  also reach this registry over plain HTTP, repeatable
      --default-runtime NAME       runtime for new containers (default ${BUILTIN_RUNTIME}, in-process)
  -D, --debug                      debug mode (log level debug)
  -l, --log-level LEVEL            debug, info, warn, error, fatal (default info)
  -G, --group NAME                 group owning the sockets (default berth, when it exists)
  -v, --version                    print the version
`;

async function main(argv: string[]): Promise<number> {
  const p = parseArgs(argv, FLAGS, false);
  if (p.rest[0] === '__warm') return 0; // build time: loading is all there is to compile ahead
  if (bool(p, 'help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (bool(p, 'version')) {
    process.stdout.write(`berthd version ${BERTH_VERSION}, build ${GIT_COMMIT}\n`);
    return 0;
  }
  if (p.rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p.rest[0])} (berthd takes flags only)`);
  const given = (name: string): boolean => p.flags.has(name);
  const flags: DaemonFlags = {
    ...(given('data-root') && { dataRoot: resolve(str(p, 'data-root')!) }),
    ...(given('exec-root') && { execRoot: resolve(str(p, 'exec-root')!) }),
    ...(given('host') && { hosts: list(p, 'host') }),
    ...(given('insecure-registry') && { insecureRegistries: list(p, 'insecure-registry') }),
    ...(given('default-runtime') && { defaultRuntime: str(p, 'default-runtime')! }),
    ...(given('debug') && { debug: bool(p, 'debug') }),
    ...(given('log-level') && { logLevel: str(p, 'log-level')! }),
    ...(given('group') && { group: str(p, 'group')! }),
  };
  const configFile = str(p, 'config-file') ?? process.env.BERTH_DAEMON_CONFIG ?? DEFAULT_CONFIG_FILE;
  const cfg = await loadDaemonConfig(flags, configFile, given('config-file'));
  const log = streamLogger(cfg.logLevel);
  const defaultRuntime = cfg.defaultRuntime ?? BUILTIN_RUNTIME;

  await mkdir(cfg.execRoot, { recursive: true, mode: 0o700 });
  await mkdir(cfg.dataRoot, { recursive: true, mode: 0o711 });
  const releases: (() => Promise<void>)[] = [];
  const releaseAll = async (): Promise<void> => {
    for (const r of releases.splice(0).reverse()) await r().catch(() => undefined);
  };
  try {
    releases.push(await acquirePidFile(join(cfg.execRoot, 'berthd.pid'), `exec root ${cfg.execRoot}`));
    releases.push(await acquirePidFile(join(cfg.dataRoot, 'berthd.lock'), `data root ${cfg.dataRoot}`));
    for (const sock of cfg.hosts) {
      if (await socketAnswers(sock)) throw new AlreadyRunningError(`${sock}: another daemon is listening on it`);
    }
    const engine = await Engine.open({
      dataRoot: cfg.dataRoot,
      execRoot: cfg.execRoot,
      insecureRegistries: cfg.insecureRegistries,
      runtimes: cfg.runtimes,
      defaultRuntime,
      debug: cfg.debug,
      registryStallTimeoutMs: cfg.registryStallTimeoutMs,
      network: cfg.network,
    }, log);
    releases.push(async () => engine.close());
    if (cfg.debug) {
      const stop = watchLoopDelay(log);
      releases.push(async () => stop());
    }
    const gid = await groupId(cfg.group);
    if (gid === undefined && given('group')) throw new DaemonConfigError(`group ${JSON.stringify(cfg.group)}: no such group`);
    const servers: ApiServer[] = [];
    for (const sock of cfg.hosts) {
      await mkdir(dirname(sock), { recursive: true, mode: 0o755 });
      const server = new ApiServer(engine, log);
      await server.listen(sock, { ...(gid !== undefined && { gid }) });
      servers.push(server);
      releases.push(() => server.close());
      log.info(`API listen on ${sock}`);
    }
    log.info(`Daemon has completed initialization (berthd ${BERTH_VERSION}, data root ${cfg.dataRoot}, exec root ${cfg.execRoot})`);
    await stopSignal(log);
    log.info('Processing signal: stopping');
    await releaseAll();
    log.info('Daemon shutdown complete');
    return 0;
  } catch (e) {
    await releaseAll();
    throw e;
  }
}

/** Resolves on the first SIGTERM or SIGINT; a second one while stopping exits at once. */
function stopSignal(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const on = (sig: NodeJS.Signals): void => {
      if (stopping) {
        log.warn(`${sig} while stopping: exiting now`);
        process.exit(1);
      }
      stopping = true;
      log.info(`Received ${sig}`);
      resolve();
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

if (!runWorkerIfAny()) {
  // libuv's pool (fsync, rmdir of cgroups, readdir) is shared by every container being started or
  // removed at once: 4 threads (the default) queue 50 parallel runs' file work behind each other.
  // Read when the pool is first used, which is later than this.
  process.env.UV_THREADPOOL_SIZE ??= '16';
  // pulls unpack layers in worker threads that run this same file (see src/image/unpack/worker.ts)
  const self = process.argv[1];
  setUnpackWorkerEntry(self !== undefined && !self.endsWith('.ts') ? self : undefined);
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // the server is closed; nothing else should keep the process up
      if (code === 0) setImmediate(() => process.exit(0));
    },
    (e: unknown) => {
      if (e instanceof UsageError) {
        process.stderr.write(`berthd: ${e.message}\n\n${USAGE}`);
        process.exitCode = 2;
        return;
      }
      process.stderr.write(`berthd: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
