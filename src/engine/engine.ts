/**
 * The engine: what the API calls. It holds the daemon's configuration, the image verbs
 * (images.ts) and the container verbs (containers/), whose records it reconciles at open.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { openStores } from '../image/index.ts';
import { useZygote } from '../native/helper.ts';
import { Zygote } from '../native/zygote.ts';
import { Containers } from './containers/index.ts';
import { EventBus } from './events.ts';
import type { ContainerBackend, ContainerCounts } from './backend.ts';
import { ImageEngine } from './images.ts';

export type { ContainerBackend, ContainerCounts };
import { silentLogger, type Logger } from './log.ts';
import { hostFacts, type HostFacts } from './system.ts';
import { VolumeService } from './volumes/index.ts';
import { NetworkService } from './networks/index.ts';

import type { RuntimeConfig } from './runtimes.ts';
export type { RuntimeConfig };

export interface EngineConfig {
  /** images, containers, volumes (default /var/lib/berth) */
  dataRoot: string;
  /** sockets, pid file, the runtime's state (default /run/berth) */
  execRoot: string;
  /** registries reached over plain HTTP besides the loopback ones */
  insecureRegistries: string[];
  /** runc-compatible runtimes by name (daemon.json `runtimes`), besides the built-in one */
  runtimes: Record<string, RuntimeConfig>;
  defaultRuntime: string;
  debug: boolean;
  /** how long a registry may send nothing before an attempt is retried (ms; 0: never) */
  registryStallTimeoutMs?: number;
}

export { BUILTIN_RUNTIME } from './runtimes.ts';



export class Engine {
  /** what happened lately, and who listens (GET /events) */
  readonly events = new EventBus();
  /** the container verbs (set by open) */
  containers!: Containers;
  /** the local volume driver (set by open, before the containers, which take references) */
  volumes!: VolumeService;
  /** the networks' records and verbs (set by open, before the containers, which join networks) */
  networks!: NetworkService;

  private constructor(
    readonly config: EngineConfig,
    readonly images: ImageEngine,
    /** docker's engine ID: made once, kept in the data root */
    readonly id: string,
    readonly host: HostFacts,
    readonly log: Logger,
    readonly startedAt: Date,
    /** forks every native helper (mounts, monitors, execs), so that this process never forks */
    private readonly zygote: Zygote,
  ) {}

  static async open(config: EngineConfig, log: Logger = silentLogger): Promise<Engine> {
    await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
    await mkdir(config.execRoot, { recursive: true, mode: 0o711 });
    // first, while this process is small: the one fork of it the daemon makes for its helpers
    const zygote = await Zygote.start(join(config.execRoot, 'zygote.sock'));
    zygote.onExit = (why) => {
      log.warn(`the berth-init zygote exited (${why}); helpers are spawned by berthd itself from now on`);
      useZygote(undefined);
    };
    useZygote(zygote);
    try {
      const stores = await openStores(config.dataRoot);
      let containers: Containers | undefined;
      const images = new ImageEngine(stores, {
        insecureRegistries: config.insecureRegistries,
        ...(config.registryStallTimeoutMs !== undefined && { stallTimeoutMs: config.registryStallTimeoutMs }),
        onBroken: (e) => log.warn(e.message),
        // containers own their bundles: rmi speaks of them, and never deletes a running one's image
        bundleOwner: (dir: string) => containers?.bundleOwner(dir),
      });
      const id = await engineId(config.dataRoot);
      const engine = new Engine(config, images, id, await hostFacts(config.dataRoot), log, new Date(), zygote);
      engine.volumes = await VolumeService.open(config.dataRoot, { log, onEvent: (action, name, attrs) => engine.events.log('volume', action, name, attrs) });
      engine.networks = await NetworkService.open(config.dataRoot, { log, onEvent: (action, netId, attrs) => engine.events.log('network', action, netId, attrs) });
      images.events = engine.events;
      engine.containers = containers = await Containers.open({ dataRoot: stores.root, execRoot: config.execRoot, stores, images, volumes: engine.volumes, log, events: engine.events, runtimes: config.runtimes, defaultRuntime: config.defaultRuntime });
      return engine;
    } catch (e) {
      useZygote(undefined);
      zygote.onExit = undefined;
      zygote.stop();
      throw e;
    }
  }

  /** Lets go of the containers' monitors: the containers keep running without the daemon. */
  close(): void {
    this.containers?.close();
    this.zygote.onExit = undefined;
    useZygote(undefined);
    this.zygote.stop();
  }
}

/** The ID in `<data>/engine-id`, made on first start (written tmp+rename). */
async function engineId(dataRoot: string): Promise<string> {
  const file = join(dataRoot, 'engine-id');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (id !== '') return id;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const id = randomUUID();
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${id}\n`, { mode: 0o600 });
  await rename(tmp, file);
  return id;
}
