/**
 * The engine's networks, as dockerd keeps them: records of the built-in `bridge`, `host` and
 * `none` networks (made at the first start, always there) and of user networks, with docker's
 * verbs (create, list, inspect, remove, prune, connect, disconnect), lookups (id, name, id
 * prefix) and shapes (types.NetworkResource).
 *
 * What a network is on the host (pools, bridge, firewall, DNS) is the plumbing's, given at open
 * (the built-in bridge is made through it); who is on it, the members'; connecting a container,
 * the connector's. The engine's wiring sets the last two once the containers exist; until then
 * nobody is a member, and connect and disconnect are refused.
 */
import { randomBytes } from 'node:crypto';

import { ForbiddenError, InvalidParameterError, NotFoundError, SystemError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { listFilter, pruneFilter, type Filters } from './filters.ts';
import { RecordStore } from './store.ts';
import { OPT, PREDEFINED, nameConflict, planCreate } from './validate.ts';
import type {
  EndpointResource, EndpointSettingsRequest, IpamConfig, NetworkConnector, NetworkCreateRequest, NetworkMembers, NetworkPlumbing, NetworkRecord,
  NetworkResource, PoolChoice, PoolRequest, PoolsChoice,
} from './types.ts';

/** the default bridge's Linux name (docker's is docker0) */
export const DEFAULT_BRIDGE = 'berth0';

export type NetworkEventAction = 'create' | 'destroy' | 'connect' | 'disconnect' | 'prune';

export interface NetworkServiceOptions {
  log?: Logger;
  /** docker's network events; `id` is '' for prune */
  onEvent?: (action: NetworkEventAction, id: string, attributes: Record<string, string>) => void;
  /** the data plane: pools, bridge, firewall, DNS (the engine's NetworkPlane) */
  plumbing: NetworkPlumbing;
  members?: NetworkMembers;
  connector?: NetworkConnector;
  /** the default bridge's Linux name (daemon.json `bridge`; berth0) and its pool (`bip`) when first made */
  defaultBridge?: { name: string; pool?: PoolRequest };
}

export interface InspectOptions {
  verbose?: boolean;
  /** `local`, `swarm` or `global`: a network of another scope is not found */
  scope?: string;
}

const newId = (): string => randomBytes(32).toString('hex');

/** Go's time.Time in JSON (RFC3339Nano: trailing zeros of the fraction dropped) in the daemon's zone */
export function rfc3339NanoLocal(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? 'Z' : `${off > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  const frac = pad(d.getMilliseconds(), 3).replace(/0+$/, '');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${frac ? `.${frac}` : ''}${zone}`;
}

function ipamEntry(c: PoolChoice): IpamConfig {
  return {
    Subnet: c.subnet,
    ...(c.ipRange !== undefined && { IPRange: c.ipRange }),
    Gateway: c.gateway,
    ...(c.auxAddresses && Object.keys(c.auxAddresses).length > 0 && { AuxiliaryAddresses: c.auxAddresses }),
  };
}

function ipamOf(choice: PoolsChoice): IpamConfig[] {
  return [...(choice.v4 ? [ipamEntry(choice.v4)] : []), ...(choice.v6 ? [ipamEntry(choice.v6)] : [])];
}

/** docker's default bridge options (what `docker network inspect bridge` shows), with berth's bridge name */
function defaultBridgeOptions(name: string): Record<string, string> {
  return {
    [OPT.defaultBridge]: 'true',
    [OPT.enableIcc]: 'true',
    [OPT.enableMasquerade]: 'true',
    [OPT.hostBindingIpv4]: '0.0.0.0',
    [OPT.bridgeName]: name,
    [OPT.mtu]: '1500',
  };
}

type Resolved = { rec: NetworkRecord } | { ambiguous: 'name' | 'id'; count: number } | undefined;

export class NetworkService {
  readonly #networks = new Map<string, NetworkRecord>();
  readonly #log: Logger;
  readonly #onEvent: NetworkServiceOptions['onEvent'];
  readonly #plumbing: NetworkPlumbing;
  #members: NetworkMembers | undefined;
  #connector: NetworkConnector | undefined;
  readonly #defaultBridge: NetworkServiceOptions['defaultBridge'];
  /** creates and removes, one at a time: names, subnets and bridge names are checked against a still list */
  #serial: Promise<unknown> = Promise.resolve();

  private constructor(private readonly store: RecordStore, opts: NetworkServiceOptions) {
    this.#log = opts.log ?? silentLogger;
    this.#onEvent = opts.onEvent;
    this.#plumbing = opts.plumbing;
    this.#members = opts.members;
    this.#connector = opts.connector;
    this.#defaultBridge = opts.defaultBridge;
  }

  /** Loads `<dataRoot>/network/networks` and makes the built-in networks the first time. */
  static async open(dataRoot: string, opts: NetworkServiceOptions): Promise<NetworkService> {
    const s = new NetworkService(await RecordStore.open(dataRoot), opts);
    for (const rec of await s.store.load((file, why) => s.#log.warn(`networks: ignoring ${file}: ${why}`))) s.#networks.set(rec.id, rec);
    await s.#builtins();
    return s;
  }

  async #builtins(): Promise<void> {
    const made = new Set(this.all().filter((n) => n.builtin).map((n) => n.name));
    const base = (name: string, driver: NetworkRecord['driver']): NetworkRecord => ({
      schemaVersion: 1, id: newId(), name, driver, created: new Date().toISOString(), builtin: true, bridge: '',
      internal: false, attachable: false, enableIPv6: false, ipamOptions: null, ipam: [], options: {}, labels: {},
    });
    if (!made.has('bridge')) {
      const name = this.#defaultBridge?.name ?? DEFAULT_BRIDGE;
      const rec = { ...base('bridge', 'bridge'), bridge: name, options: defaultBridgeOptions(name) };
      rec.ipam = ipamOf(await this.#plumbing.create(rec, { v4: this.#defaultBridge?.pool ?? {} }));
      await this.#add(rec);
    }
    if (!made.has('host')) await this.#add(base('host', 'host'));
    if (!made.has('none')) await this.#add(base('none', 'null'));
  }

  async #add(rec: NetworkRecord): Promise<void> {
    await this.store.write(rec);
    this.#networks.set(rec.id, rec);
  }

  setMembers(m: NetworkMembers): void {
    this.#members = m;
  }

  setConnector(c: NetworkConnector): void {
    this.#connector = c;
  }

  /** Every network, built-ins first, then by creation time. */
  all(): NetworkRecord[] {
    return [...this.#networks.values()].sort((a, b) => Number(b.builtin) - Number(a.builtin) || a.created.localeCompare(b.created) || a.name.localeCompare(b.name));
  }

  /** The built-in `bridge`, where `docker run` puts a container by default. */
  defaultBridge(): NetworkRecord {
    const rec = this.all().find((n) => n.builtin && n.name === 'bridge');
    if (!rec) throw new SystemError('the default bridge network has no record');
    return rec;
  }

  /** dockerd's order: the exact id, then the exact name, then an id prefix; more than one match at a step is ambiguous. */
  #resolve(term: string): Resolved {
    if (term === '') return undefined;
    const byId = this.#networks.get(term);
    if (byId) return { rec: byId };
    const byName = this.all().filter((n) => n.name === term);
    if (byName.length === 1) return { rec: byName[0]! };
    if (byName.length > 1) return { ambiguous: 'name', count: byName.length };
    const byPrefix = this.all().filter((n) => n.id.startsWith(term));
    if (byPrefix.length === 1) return { rec: byPrefix[0]! };
    if (byPrefix.length > 1) return { ambiguous: 'id', count: byPrefix.length };
    return undefined;
  }

  /** The network `term` names (id, name or id prefix), in the words of dockerd's FindNetwork (used by container create and connect). */
  find(term: string): NetworkRecord {
    const r = this.#resolve(term);
    if (!r) throw new NotFoundError(`network ${term} not found`);
    if ('ambiguous' in r) throw new InvalidParameterError(`network ${term} is ambiguous (${r.count} matches found ${r.ambiguous === 'name' ? 'on name' : 'based on ID prefix'})`);
    return r.rec;
  }

  /** the API router's findUniqueNetwork (rm) */
  #findUnique(term: string): NetworkRecord {
    const r = this.#resolve(term);
    if (!r) throw new NotFoundError(`network ${term} not found`);
    if ('ambiguous' in r) throw new InvalidParameterError(`network ${term} is ambiguous (${r.count} matches found based on ${r.ambiguous === 'name' ? 'name' : 'ID prefix'})`);
    return r.rec;
  }

  #endpoints(rec: NetworkRecord): Record<string, EndpointResource> {
    const out: Record<string, EndpointResource> = {};
    for (const e of this.#members?.of(rec.id) ?? []) {
      out[e.containerId] = { Name: e.name, EndpointID: e.endpointId, MacAddress: e.macAddress, IPv4Address: e.ipv4Address, IPv6Address: e.ipv6Address };
    }
    return out;
  }

  #used(rec: NetworkRecord): boolean {
    return (this.#members?.of(rec.id).length ?? 0) > 0;
  }

  /** docker's types.NetworkResource; `detailed` fills Containers (inspect), the list leaves it empty as dockerd 20.10 does */
  resource(rec: NetworkRecord, detailed: boolean): NetworkResource {
    return {
      Name: rec.name,
      Id: rec.id,
      Created: rfc3339NanoLocal(rec.created),
      Scope: 'local',
      Driver: rec.driver,
      EnableIPv6: rec.enableIPv6,
      IPAM: { Driver: 'default', Options: rec.ipamOptions, Config: rec.ipam.map((c) => ({ ...c })) },
      Internal: rec.internal,
      Attachable: rec.attachable,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: detailed ? this.#endpoints(rec) : {},
      Options: { ...rec.options },
      Labels: { ...rec.labels },
    };
  }

  /** `GET /networks` */
  list(filters: Filters = {}): NetworkResource[] {
    const keep = listFilter(filters);
    return this.all().filter((rec) => keep({ rec, used: this.#used(rec) })).map((rec) => this.resource(rec, false));
  }

  /** `GET /networks/{id}`, in the router's words (getNetwork) */
  inspect(term: string, opts: InspectOptions = {}): NetworkResource {
    const r = opts.scope && opts.scope !== 'local' ? undefined : this.#resolve(term);
    if (!r) throw new NotFoundError(`network ${term} not found`);
    if ('ambiguous' in r) throw new InvalidParameterError(`${r.count} matches found based on ${r.ambiguous === 'name' ? 'name' : 'ID prefix'}: network ${term} is ambiguous`);
    return this.resource(r.rec, true);
  }

  #serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(fn, fn);
    this.#serial = run.catch(() => undefined);
    return run;
  }

  /** `POST /networks/create` */
  create(req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    return this.#serialised(async () => {
      const others = this.all();
      let warning = '';
      const same = others.find((n) => n.name === req.Name);
      if (same && !PREDEFINED.has(req.Name)) {
        if (req.CheckDuplicate) throw nameConflict(req.Name);
        // dockerd makes a second network of that name when the client did not ask it to check
        warning = `Network with name ${same.name} (id : ${same.id}) already exists`;
      }
      const { rec, pools } = planCreate(req, newId(), new Date().toISOString(), others);
      rec.ipam = ipamOf(await this.#plumbing.create(rec, pools));
      try {
        await this.#add(rec);
      } catch (e) {
        await this.#plumbing.remove(rec).catch((u: Error) => this.#log.error(`networks: undoing ${rec.name}: ${u.message}`));
        throw e;
      }
      this.emit('create', rec);
      return { Id: rec.id, Warning: warning };
    });
  }

  async #delete(rec: NetworkRecord): Promise<void> {
    if (rec.builtin || PREDEFINED.has(rec.name)) throw new ForbiddenError(`${rec.name} is a pre-defined network and cannot be removed`);
    if (this.#used(rec)) throw new ForbiddenError(`error while removing network: network ${rec.name} id ${rec.id} has active endpoints`);
    try {
      await this.#plumbing.remove(rec);
    } catch (e) {
      throw new SystemError(`error while removing network: ${(e as Error).message}`, { cause: e });
    }
    await this.store.remove(rec.id);
    this.#networks.delete(rec.id);
    this.emit('destroy', rec);
  }

  /** `DELETE /networks/{id}` */
  remove(term: string): Promise<void> {
    return this.#serialised(() => this.#delete(this.#findUnique(term)));
  }

  /** `POST /networks/prune`: user networks nobody is on (label, label!, until) */
  prune(filters: Filters = {}): Promise<{ NetworksDeleted: string[] | null }> {
    const keep = pruneFilter(filters);
    return this.#serialised(async () => {
      const deleted: string[] = [];
      for (const rec of this.all()) {
        if (rec.builtin || PREDEFINED.has(rec.name) || !keep(rec) || this.#used(rec)) continue;
        try {
          await this.#delete(rec);
          deleted.push(rec.name);
        } catch (e) {
          this.#log.warn(`could not remove local network ${rec.name}: ${(e as Error).message}`);
        }
      }
      this.#onEvent?.('prune', '', { reclaimed: '0' });
      return { NetworksDeleted: deleted.length > 0 ? deleted : null };
    });
  }

  /** `POST /networks/{id}/connect` */
  async connect(term: string, container: string, cfg: EndpointSettingsRequest): Promise<void> {
    const rec = this.find(term);
    if (!this.#connector) throw new SystemError('network connect: not available');
    await this.#connector.connect(container, rec, cfg);
  }

  /** `POST /networks/{id}/disconnect` */
  async disconnect(term: string, container: string, force: boolean): Promise<void> {
    const rec = this.find(term);
    if (!this.#connector) throw new SystemError('network disconnect: not available');
    await this.#connector.disconnect(container, rec, force);
  }

  /** docker's network event: `name` and `type` (the driver), plus `container` for connect/disconnect */
  emit(action: Exclude<NetworkEventAction, 'prune'>, rec: NetworkRecord, attributes: Record<string, string> = {}): void {
    this.#onEvent?.(action, rec.id, { ...attributes, name: rec.name, type: rec.driver });
  }
}
