/**
 * The network service's shapes: berth's record of a network, docker's API shapes
 * (types.NetworkResource, NetworkCreateRequest, EndpointSettings), and the three interfaces the
 * container side and the data plane fill in (plumbing, members, connector).
 */

export type NetworkDriver = 'bridge' | 'host' | 'null';

/** docker's network.IPAMConfig, field order as dockerd sends it (all omitempty) */
export interface IpamConfig {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

/** `<dataRoot>/network/networks/<id>.json` */
export interface NetworkRecord {
  schemaVersion: 1;
  id: string;
  name: string;
  driver: NetworkDriver;
  /** RFC 3339 with milliseconds, UTC */
  created: string;
  /** bridge, host or none: made by berthd, never removed or pruned */
  builtin: boolean;
  /** the Linux bridge's name (`berth0`, `br-<id[:12]>`); '' for host and null */
  bridge: string;
  internal: boolean;
  attachable: boolean;
  enableIPv6: boolean;
  /** IPAM.Options as given (null when none) */
  ipamOptions: Record<string, string> | null;
  /** the IPv4 config first, then the IPv6 one, as the plumbing chose them */
  ipam: IpamConfig[];
  options: Record<string, string>;
  labels: Record<string, string>;
}

/** One address family's pool as asked for (`--subnet`, `--gateway`, `--ip-range`, `--aux-address`). */
export interface PoolRequest {
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  auxAddresses?: Record<string, string>;
}

/** What the plumbing chose: subnet and gateway are always set. */
export interface PoolChoice {
  subnet: string;
  gateway: string;
  ipRange?: string;
  auxAddresses?: Record<string, string>;
}

export interface PoolsRequest {
  v4?: PoolRequest;
  /** present only for EnableIPv6 (then it has a subnet: docker's defaults have no IPv6 pool) */
  v6?: PoolRequest;
}

export interface PoolsChoice {
  v4?: PoolChoice;
  v6?: PoolChoice;
}

/**
 * The data plane of a network, given to `NetworkService.open` by the engine's wiring.
 * `create` is called once, when a bridge network's record is made (a user create, or the
 * built-in bridge at the first start); rebuilding the host side after a reboot is the
 * reconcile's job (it walks `NetworkService.all()`). A create that throws leaves no record.
 */
export interface NetworkPlumbing {
  /** allocate the pools (IPAM) and make the bridge, firewall and DNS; returns the IPAM config chosen */
  create(rec: NetworkRecord, req: PoolsRequest): Promise<PoolsChoice>;
  /** undo create: the record goes right after */
  remove(rec: NetworkRecord): Promise<void>;
}

/** One container's endpoint on a network, as inspect's `Containers` shows it. */
export interface EndpointView {
  containerId: string;
  /** the container's name, without the leading slash */
  name: string;
  endpointId: string;
  macAddress: string;
  /** CIDR (`172.18.0.2/16`) or '' */
  ipv4Address: string;
  ipv6Address: string;
}

/** Who is on a network: inspect's `Containers`, rm's "has active endpoints", prune, dangling. */
export interface NetworkMembers {
  of(networkId: string): EndpointView[];
}

/** docker's network.EndpointIPAMConfig */
export interface EndpointIpamConfig {
  IPv4Address?: string;
  IPv6Address?: string;
  LinkLocalIPs?: string[];
}

/** docker's network.EndpointSettings as a connect (or container create) asks for it. */
export interface EndpointSettingsRequest {
  IPAMConfig?: EndpointIpamConfig | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  NetworkID?: string;
  EndpointID?: string;
  Gateway?: string;
  IPAddress?: string;
  IPPrefixLen?: number;
  IPv6Gateway?: string;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  MacAddress?: string;
  DriverOpts?: Record<string, string> | null;
}

/**
 * `POST /networks/{id}/connect` and `/disconnect`, implemented by the container side. It emits the
 * `connect`/`disconnect` events (`NetworkService.emit`), as it does when a container starts or stops.
 */
export interface NetworkConnector {
  connect(container: string, net: NetworkRecord, cfg: EndpointSettingsRequest): Promise<void>;
  disconnect(container: string, net: NetworkRecord, force: boolean): Promise<void>;
}

/** docker's types.NetworkCreateRequest (the body of `POST /networks/create`), decoded */
export interface NetworkCreateRequest {
  Name: string;
  CheckDuplicate: boolean;
  Driver: string;
  Scope: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Config: IpamConfig[]; Options: Record<string, string> | null } | null;
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigOnly: boolean;
  ConfigFrom: { Network: string } | null;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** docker's types.EndpointResource */
export interface EndpointResource {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

/** docker's types.NetworkResource, field order as dockerd 20.10 sends it */
export interface NetworkResource {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: IpamConfig[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, EndpointResource>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}
