// berth network create / ls / inspect / rm / connect / disconnect / prune: docker 20.10's network
// verbs (cli/command/network) against the Engine API's /networks endpoints.
import { bool, list, str } from '../args.ts';
import { renderFormat } from '../format.ts';
import { DaemonError } from './client.ts';
import { PlainFailure, wantArgs } from './command.ts';
import type { Command } from './command.ts';
import { confirm } from './confirm.ts';
import { filterFlags } from './filters.ts';
import { inspectEach } from './inspect-each.ts';
import { checkLabel, labelsText } from './labels.ts';
import { consolidateIpam } from './network-ipam.ts';
import { pruneNetworks, writePruned } from './prune-reports.ts';
import { keyValues } from './run-options.ts';
import { naturalCompare } from './volumes.ts';

const enc = encodeURIComponent;

/** The fields of the API's NetworkResource that the CLI reads */
export interface NetworkResource {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv6: boolean;
  Internal: boolean;
  Labels: Record<string, string> | null;
  [k: string]: unknown;
}

/** A row of docker's network formatter: its fields, in JSON's sorted order, for --format. */
export interface NetworkRow {
  CreatedAt: string;
  Driver: string;
  ID: string;
  IPv6: string;
  Internal: string;
  Labels: string;
  Name: string;
  Scope: string;
}

export const NETWORK_HEADERS: Record<keyof NetworkRow, string> = {
  CreatedAt: 'CREATED AT', Driver: 'DRIVER', ID: 'NETWORK ID', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', Name: 'NAME', Scope: 'SCOPE',
};

/** Go's time.Time.String of an RFC 3339 time from the API: `2024-05-01 10:00:00.5 +0000 UTC`. */
export function goTimeString(rfc3339: string): string {
  const m = /^(\d{4,}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(rfc3339);
  if (!m) return rfc3339;
  const fraction = (m[3] ?? '').slice(0, 9).replace(/0+$/, '');
  const zone = m[4] === 'Z' ? '+0000 UTC' : `${m[4]!.replace(':', '')} ${m[4]!.replace(':', '')}`;
  return `${m[1]} ${m[2]}${fraction === '' ? '' : `.${fraction}`} ${zone}`;
}

/** stringid.TruncateID: what follows an algorithm prefix, cut to 12 */
const truncateId = (id: string): string => id.slice(id.indexOf(':') + 1).slice(0, 12);

export function networkRow(n: NetworkResource, trunc: boolean): NetworkRow {
  return {
    CreatedAt: goTimeString(n.Created),
    Driver: n.Driver,
    ID: trunc ? truncateId(n.Id) : n.Id,
    IPv6: String(n.EnableIPv6),
    Internal: String(n.Internal),
    Labels: labelsText(n.Labels),
    Name: n.Name,
    Scope: n.Scope,
  };
}

/** `network ls`'s output for the daemon's list: sorted by name, as docker's table, quiet or --format. */
export function networkTable(networks: readonly NetworkResource[], opts: { format?: string; quiet?: boolean; noTrunc?: boolean }): string {
  let format = opts.format ?? '';
  if (format === '' || format === 'table') format = opts.quiet ? '{{.ID}}' : 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
  else if (format === 'raw') format = opts.quiet ? 'network_id: {{.ID}}' : 'network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n';
  else if (format === 'json') format = '{{json .}}';
  const sorted = [...networks].sort((a, b) => naturalCompare(a.Name, b.Name));
  return renderFormat(format, sorted.map((n) => networkRow(n, !opts.noTrunc)), NETWORK_HEADERS);
}

/** pflag's string slices: `--subnet a,b` is two values, as is `--subnet a --subnet b` */
const slice = (values: readonly string[]): string[] => values.flatMap((v) => (v === '' ? [] : v.split(',')));


/** docker's client words a 404 about a network itself (objectNotFoundError) */
const notFound = (e: DaemonError, name: string): string => (e.status === 404 ? `Error: No such network: ${name}` : `Error response from daemon: ${e.message}`);

/** The API's NetworkCreateRequest of `network create` flags, as docker's runCreate makes it. */
export function createBody(name: string, p: Parameters<Command['run']>[0]): Record<string, unknown> {
  list(p, 'label').forEach(checkLabel);
  let config;
  try {
    config = consolidateIpam(slice(list(p, 'subnet')), slice(list(p, 'ip-range')), slice(list(p, 'gateway')), keyValues(list(p, 'aux-address')));
  } catch (e) {
    throw new PlainFailure((e as Error).message);
  }
  return {
    Name: name,
    CheckDuplicate: true,
    Driver: str(p, 'driver') ?? 'bridge',
    Scope: '',
    EnableIPv6: bool(p, 'ipv6'),
    IPAM: { Driver: str(p, 'ipam-driver') ?? 'default', Config: config, Options: keyValues(list(p, 'ipam-opt')) },
    Internal: bool(p, 'internal'),
    Attachable: bool(p, 'attachable'),
    Ingress: false,
    ConfigOnly: false,
    Options: keyValues(list(p, 'opt')),
    Labels: keyValues(list(p, 'label')),
  };
}

export const networkCreateCommand: Command = {
  name: 'network create',
  usage: '[OPTIONS] NETWORK',
  summary: 'Create a network',
  flags: [
    { names: ['driver', 'd'], kind: 'string' }, { names: ['opt', 'o'], kind: 'list' }, { names: ['label'], kind: 'list' },
    { names: ['internal'], kind: 'bool' }, { names: ['ipv6'], kind: 'bool' }, { names: ['attachable'], kind: 'bool' },
    { names: ['ipam-driver'], kind: 'string' }, { names: ['subnet'], kind: 'list' }, { names: ['ip-range'], kind: 'list' },
    { names: ['gateway'], kind: 'list' }, { names: ['aux-address'], kind: 'list' }, { names: ['ipam-opt'], kind: 'list' },
  ],
  flagHelp: [
    '      --attachable           Enable manual container attachment',
    '      --aux-address map      Auxiliary IPv4 or IPv6 addresses used by Network driver (default map[])',
    '  -d, --driver string        Driver to manage the Network (default "bridge")',
    '      --gateway strings      IPv4 or IPv6 Gateway for the master subnet',
    '      --internal             Restrict external access to the network',
    '      --ip-range strings     Allocate container ip from a sub-range',
    '      --ipam-driver string   IP Address Management Driver (default "default")',
    '      --ipam-opt map         Set IPAM driver specific options (default map[])',
    '      --ipv6                 Enable IPv6 networking',
    '      --label list           Set metadata on a network',
    '  -o, --opt map              Set driver specific options (default map[])',
    '      --subnet strings       Subnet in CIDR format that represents a network segment',
  ].join('\n'),
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 1, 1);
    // bad flags fail before any daemon is reached (or started)
    const body = createBody(p.rest[0]!, p);
    const r = await (await ctx.client()).post<{ Id: string }>('/networks/create', undefined, body);
    ctx.stdout.write(`${r.Id}\n`);
    return 0;
  },
};

export const networkLsCommand: Command = {
  name: 'network ls',
  aliases: ['network list'],
  usage: '[OPTIONS]',
  summary: 'List networks',
  flags: [
    { names: ['quiet', 'q'], kind: 'bool' }, { names: ['no-trunc'], kind: 'bool' },
    { names: ['format'], kind: 'string' }, { names: ['filter', 'f'], kind: 'list' },
  ],
  flagHelp: [
    '  -f, --filter filter   Provide filter values (e.g. \'driver=bridge\')',
    '      --format string   Pretty-print networks using a Go template',
    '      --no-trunc        Do not truncate the output',
    '  -q, --quiet           Only display network IDs',
  ].join('\n'),
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 0, 0);
    const filters = filterFlags(list(p, 'filter'));
    const networks = await (await ctx.client()).get<NetworkResource[] | null>('/networks', { filters: JSON.stringify(filters) });
    const format = str(p, 'format');
    ctx.stdout.write(networkTable(networks ?? [], { ...(format !== undefined && { format }), quiet: bool(p, 'quiet'), noTrunc: bool(p, 'no-trunc') }));
    return 0;
  },
};

export const networkInspectCommand: Command = {
  name: 'network inspect',
  usage: '[OPTIONS] NETWORK [NETWORK...]',
  summary: 'Display detailed information on one or more networks',
  flags: [{ names: ['format', 'f'], kind: 'string' }, { names: ['verbose', 'v'], kind: 'bool' }],
  flagHelp: '  -f, --format string   Format the output using the given Go template\n  -v, --verbose         Verbose output for diagnostics',
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 1);
    const client = await ctx.client();
    const query = bool(p, 'verbose') ? { verbose: true } : undefined;
    return inspectEach(ctx, p.rest, str(p, 'format') ?? '', (name) => client.get(`/networks/${enc(name)}`, query), notFound);
  },
};

export const networkRmCommand: Command = {
  name: 'network rm',
  aliases: ['network remove'],
  usage: 'NETWORK [NETWORK...]',
  summary: 'Remove one or more networks',
  flags: [],
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 1);
    const client = await ctx.client();
    let failed = false;
    // docker tries every name, printing each failure as it comes, and exits 1 after them all
    for (const name of p.rest) {
      try {
        await client.call('DELETE', `/networks/${enc(name)}`).then((res) => res.resume());
        ctx.stdout.write(`${name}\n`);
      } catch (e) {
        if (!(e instanceof DaemonError)) throw e;
        ctx.stderr.write(`${notFound(e, name)}\n`);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};

/** The body of POST /networks/{id}/connect, as docker's runConnect makes it. */
export function connectBody(container: string, p: Parameters<Command['run']>[0]): Record<string, unknown> {
  const ipv4 = str(p, 'ip') ?? '';
  const ipv6 = str(p, 'ip6') ?? '';
  return {
    Container: container,
    EndpointConfig: {
      IPAMConfig: { ...(ipv4 !== '' && { IPv4Address: ipv4 }), ...(ipv6 !== '' && { IPv6Address: ipv6 }) },
      Aliases: slice(list(p, 'alias')),
    },
  };
}

export const networkConnectCommand: Command = {
  name: 'network connect',
  usage: '[OPTIONS] NETWORK CONTAINER',
  summary: 'Connect a container to a network',
  flags: [{ names: ['alias'], kind: 'list' }, { names: ['ip'], kind: 'string' }, { names: ['ip6'], kind: 'string' }, { names: ['link'], kind: 'list' }],
  flagHelp: [
    '      --alias strings   Add network-scoped alias for the container',
    '      --ip string       IPv4 address (e.g., 172.30.100.104)',
    '      --ip6 string      IPv6 address (e.g., 2001:db8::33)',
  ].join('\n'),
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 2, 2);
    if (list(p, 'link').length > 0) throw new PlainFailure('--link is not supported by berth: containers on one network reach each other by name and --alias');
    const [network, container] = p.rest as [string, string];
    const body = connectBody(container, p);
    await (await ctx.client()).post(`/networks/${enc(network)}/connect`, undefined, body);
    return 0;
  },
};

export const networkDisconnectCommand: Command = {
  name: 'network disconnect',
  usage: '[OPTIONS] NETWORK CONTAINER',
  summary: 'Disconnect a container from a network',
  flags: [{ names: ['force', 'f'], kind: 'bool' }],
  flagHelp: '  -f, --force   Force the container to disconnect from a network',
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 2, 2);
    const [network, container] = p.rest as [string, string];
    await (await ctx.client()).post(`/networks/${enc(network)}/disconnect`, undefined, { Container: container, Force: bool(p, 'force') });
    return 0;
  },
};

export const networkPruneCommand: Command = {
  name: 'network prune',
  usage: '[OPTIONS]',
  summary: 'Remove all unused networks',
  flags: [{ names: ['force', 'f'], kind: 'bool' }, { names: ['filter'], kind: 'list' }],
  flagHelp: [
    '      --filter filter   Provide filter values (e.g. \'until=<timestamp>\')',
    '  -f, --force           Do not prompt for confirmation',
  ].join('\n'),
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 0, 0);
    const filters = filterFlags(list(p, 'filter'), '--filter');
    if (!bool(p, 'force') && !(await confirm(ctx, 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?'))) return 0;
    writePruned(ctx.stdout, await pruneNetworks(await ctx.client(), filters));
    return 0;
  },
};

export const NETWORK_COMMANDS: readonly Command[] = [
  networkConnectCommand, networkCreateCommand, networkDisconnectCommand, networkInspectCommand, networkLsCommand, networkRmCommand, networkPruneCommand,
];
