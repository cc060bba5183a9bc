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
import { DEFAULT_BRIDGE, NetworkService } from './networks/index.ts';
import type { NetworkRecord, PoolRequest } from './networks/types.ts';
import { NetworkPlane } from './netplane/plane.ts';
import { NotFoundError } from './errors.ts';

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
  /** the default bridge (name, docker's bip) and the nftables table of berth's rules */
  network?: { bridge: string; bip?: string; table: string };
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
  /** what networks and containers on them are on the host: bridges, veths, rules, DNS (set by open) */
  net!: NetworkPlane;

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
      // the data plane looks networks up in the service, which makes the default bridge through it at open
      let networks: NetworkService | undefined;
      const lookup = (term: string): NetworkRecord | undefined => {
        try {
          return networks?.find(term);
        } catch (e) {
          if (e instanceof NotFoundError) return undefined;
          throw e;
        }
      };
      const netcfg = config.network ?? { bridge: DEFAULT_BRIDGE, table: 'berth' };
      engine.net = await NetworkPlane.open({ dataRoot: config.dataRoot, execRoot: config.execRoot, log, lookup, all: () => networks?.all() ?? [], table: netcfg.table });
      engine.networks = networks = await NetworkService.open(config.dataRoot, {
        log, onEvent: (action, netId, attrs) => engine.events.log('network', action, netId, attrs), plumbing: engine.net,
        defaultBridge: { name: netcfg.bridge, ...(netcfg.bip && { pool: bipPool(netcfg.bip) }) },
      });
      images.events = engine.events;
      engine.containers = containers = await Containers.open({ dataRoot: stores.root, execRoot: config.execRoot, stores, images, volumes: engine.volumes, net: engine.net, log, events: engine.events, runtimes: config.runtimes, defaultRuntime: config.defaultRuntime });
      const ctrs = containers;
      networks.setMembers({ of: (id) => ctrs.networkMembers(id) });
      networks.setConnector({ connect: (c, n, cfg) => ctrs.connectNetwork(c, n, cfg), disconnect: (c, n, force) => ctrs.disconnectNetwork(c, n, force) });
      return engine;
    } catch (e) {
      useZygote(undefined);
      zygote.onExit = undefined;
      zygote.stop();
      throw e;
    }
  }

  /** Lets go of the containers' monitors: the containers keep running without the daemon. */
  async close(): Promise<void> {
    this.containers?.close();
    await this.containers?.dropPrepared();
    await this.net?.close();
    this.zygote.onExit = undefined;
    useZygote(undefined);
    this.zygote.stop();
  }
}

/** docker's bip, `172.17.0.1/16`: the default bridge's gateway and subnet. */
function bipPool(bip: string): PoolRequest {
  const [ip, prefix] = bip.split('/');
  const n = ip!.split('.').reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n);
  const bits = BigInt(32 - Number(prefix));
  const base = (n >> bits) << bits;
  const subnet = [24n, 16n, 8n, 0n].map((s) => String((base >> s) & 255n)).join('.');
  return { subnet: `${subnet}/${prefix}`, gateway: ip! };
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
