/**
 * `berth run` / `berth create` flags, parsed client-side as docker's CLI does
 * (cli/command/container/opts.go) into the Engine API's create body: Config, HostConfig.
 * Sizes go through the engine's own parser (src/engine/spec/units.ts), so the CLI and berthd
 * agree on what `512m` means. Bad values are usage errors worded as docker's flag parser words
 * them: `invalid argument "12q" for "-m, --memory" flag: …` (exit 125).
 */
import { wantArgs } from './command.ts';
import { readFileSync } from 'node:fs';

import { ramInBytes, parseUlimit } from '../../engine/spec/units.ts';
import { UsageError, bool, list, str, type FlagDef, type Parsed } from '../args.ts';
import { NETWORK_FLAGS, networkRequest } from './run-network.ts';

export const CREATE_FLAGS: FlagDef[] = [
  { names: ['name'], kind: 'string' },
  { names: ['env', 'e'], kind: 'list' },
  { names: ['env-file'], kind: 'list' },
  { names: ['workdir', 'w'], kind: 'string' },
  { names: ['user', 'u'], kind: 'string' },
  { names: ['entrypoint'], kind: 'string' },
  { names: ['hostname', 'h'], kind: 'string' },
  { names: ['label', 'l'], kind: 'list' },
  { names: ['volume', 'v'], kind: 'list' },
  { names: ['mount'], kind: 'list' },
  { names: ['tmpfs'], kind: 'list' },
  { names: ['read-only'], kind: 'bool' },
  { names: ['memory', 'm'], kind: 'string' },
  { names: ['memory-swap'], kind: 'string' },
  { names: ['cpus'], kind: 'string' },
  { names: ['cpu-shares', 'c'], kind: 'string' },
  { names: ['cpuset-cpus'], kind: 'string' },
  { names: ['pids-limit'], kind: 'string' },
  { names: ['ulimit'], kind: 'list' },
  { names: ['cap-add'], kind: 'list' },
  { names: ['cap-drop'], kind: 'list' },
  { names: ['privileged'], kind: 'bool' },
  { names: ['device'], kind: 'list' },
  { names: ['security-opt'], kind: 'list' },
  { names: ['init'], kind: 'bool' },
  { names: ['restart'], kind: 'string' },
  { names: ['health-cmd'], kind: 'string' },
  { names: ['health-interval'], kind: 'string' },
  { names: ['health-timeout'], kind: 'string' },
  { names: ['health-retries'], kind: 'string' },
  { names: ['health-start-period'], kind: 'string' },
  { names: ['no-healthcheck'], kind: 'bool' },
  { names: ['stop-signal'], kind: 'string' },
  { names: ['stop-timeout'], kind: 'string' },
  { names: ['log-driver'], kind: 'string' },
  { names: ['log-opt'], kind: 'list' },
  { names: ['pull'], kind: 'string' },
  ...NETWORK_FLAGS,
  { names: ['volumes-from'], kind: 'list' },
  { names: ['interactive', 'i'], kind: 'bool' },
  { names: ['tty', 't'], kind: 'bool' },
  { names: ['attach', 'a'], kind: 'list' },
  { names: ['rm'], kind: 'bool' },
  { names: ['runtime'], kind: 'string' },
  { names: ['platform'], kind: 'string' },
];

export const RUN_FLAGS: FlagDef[] = [
  ...CREATE_FLAGS,
  { names: ['detach', 'd'], kind: 'bool' },
  { names: ['detach-keys'], kind: 'string' },
  { names: ['sig-proxy'], kind: 'bool' },
];

export const CREATE_HELP = [
  '  -a, --attach list                Attach to STDIN, STDOUT or STDERR',
  '      --cap-add list / --cap-drop list   Add / drop Linux capabilities',
  '  -c, --cpu-shares int             CPU shares (relative weight)',
  '      --cpus decimal               Number of CPUs',
  '      --cpuset-cpus string         CPUs in which to allow execution (0-3, 0,1)',
  '      --device list                Add a host device to the container (HOST[:CONTAINER[:PERMS]])',
  '      --entrypoint string          Overwrite the default ENTRYPOINT of the image',
  '  -e, --env list                   Set environment variables;  --env-file list: read them from files',
  '      --expose list                Expose a port or a range of ports',
  '      --health-cmd string          Command to run to check health (--health-interval, --health-timeout,',
  '                                   --health-retries, --health-start-period; --no-healthcheck)',
  '  -h, --hostname string            Container host name',
  '      --init                       Run an init inside the container that forwards signals and reaps processes',
  '  -i, --interactive                Keep STDIN open even if not attached',
  '  -l, --label list                 Set meta data on a container',
  '      --ip string                  IPv4 address (e.g., 172.30.100.104)',
  '      --ip6 string                 IPv6 address (e.g., 2001:db8::33)',
  '      --log-opt list               Log driver options (json-file: max-size, max-file)',
  '      --mac-address string         Container MAC address (e.g., 92:d0:c6:0a:29:33)',
  '  -m, --memory bytes               Memory limit;  --memory-swap bytes: memory plus swap (-1: unlimited)',
  '      --mount mount                Attach a filesystem mount (type=bind|volume|tmpfs,source=…,target=…,readonly)',
  '      --name string                Assign a name to the container',
  '      --network network            Connect a container to a network: bridge (the default), host, none,',
  '                                   container:NAME|ID, or a network made by `berth network create`',
  '      --network-alias list         Add network-scoped alias for the container',
  '  -p, --publish list               Publish a container\'s port(s) to the host',
  '                                   ([IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp|sctp]; ranges: 8080-8081:80-81)',
  '  -P, --publish-all                Publish all exposed ports to random ports',
  '      --pids-limit int             Tune container pids limit (-1 for unlimited)',
  '      --privileged                 Give extended privileges to this container',
  '      --pull string                Pull image before running ("always"|"missing"|"never") (default "missing")',
  '      --read-only                  Mount the container\'s root filesystem as read only',
  '      --restart string             no, on-failure[:N], always, unless-stopped (default "no")',
  '      --rm                         Automatically remove the container when it exits',
  '      --security-opt list          seccomp=FILE|unconfined, no-new-privileges',
  '      --stop-signal string         Signal to stop a container (default "SIGTERM")',
  '      --stop-timeout int           Timeout (in seconds) to stop a container',
  '      --tmpfs list                 Mount a tmpfs directory (PATH[:OPTIONS])',
  '  -t, --tty                        Allocate a pseudo-TTY',
  '      --ulimit ulimit              Ulimit options (NAME=SOFT[:HARD])',
  '  -u, --user string                Username or UID (format: <name|uid>[:<group|gid>])',
  '  -v, --volume list                Bind mount a volume (SRC:DST[:ro]), a named volume, or /DST (anonymous)',
  '      --volumes-from list          Mount volumes from the specified container(s)',
  '  -w, --workdir string             Working directory inside the container',
].join('\n');

export const RUN_HELP = `${CREATE_HELP}
  -d, --detach                     Run container in background and print container ID
      --detach-keys string         Override the key sequence for detaching a container (default ctrl-p,ctrl-q)`;

export interface CreateRequest {
  name?: string;
  image: string;
  pull: 'missing' | 'always' | 'never';
  body: { [k: string]: unknown; HostConfig: Record<string, unknown> };
}

const flagName = (name: string, short?: string): string => (short ? `-${short}, --${name}` : `--${name}`);

function invalid(value: string, name: string, why: string, short?: string): UsageError {
  return new UsageError(`invalid argument "${value}" for "${flagName(name, short)}" flag: ${why}`);
}

/** Go's time.ParseDuration: `1m30s`, `500ms`, `2h`; nanoseconds. */
export function parseGoDuration(s: string): number | undefined {
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * units[m[2]!]!;
    at = re.lastIndex;
  }
  return at === s.length && s.length > 0 ? Math.round(total) : undefined;
}

/** A byte-size flag (`512m`, `1g`); --memory-swap also takes -1. */
export function size(p: Parsed, name: string, short?: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (name === 'memory-swap' && v === '-1') return -1;
  try {
    return ramInBytes(v);
  } catch (e) {
    throw invalid(v, name, (e as Error).message, short);
  }
}

export function integer(p: Parsed, name: string, short?: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw invalid(v, name, 'strconv.ParseInt: parsing ' + JSON.stringify(v) + ': invalid syntax', short);
  return Number(v);
}

function duration(p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const ns = parseGoDuration(v);
  if (ns === undefined) throw invalid(v, name, `time: invalid duration "${v}"`);
  return ns;
}

/** `K=V` as given; a bare `K` takes this environment's value when it has one (docker's ValidateEnv). */
function envValue(s: string): string {
  if (s.includes('=')) return s;
  const v = process.env[s];
  return v === undefined ? s : `${s}=${v}`;
}

function envFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`open ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
  return text.split('\n').map((l) => l.replace(/^\s+/, '')).filter((l) => l !== '' && !l.startsWith('#')).map(envValue);
}

/** `k=v` values as a map, a bare `k` mapping to '' (docker's ConvertKVStringsToMap). */
export function keyValues(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq < 0) out[v] = '';
    else out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

/** `--mount type=bind,source=/a,target=/b,readonly` → a Mount of the API. */
function parseMount(spec: string): Record<string, unknown> {
  const m: Record<string, unknown> = { Type: 'volume' };
  const bind: Record<string, unknown> = {};
  const vol: Record<string, unknown> = {};
  const tmpfs: Record<string, unknown> = {};
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : field.slice(eq + 1);
    const truth = (): boolean => {
      if (value === undefined || ['1', 'true'].includes(value.toLowerCase())) return true;
      if (['0', 'false'].includes(value.toLowerCase())) return false;
      throw new UsageError(`invalid argument "${spec}" for "--mount" flag: invalid value for ${key}: ${value}`);
    };
    const need = (): string => {
      if (value === undefined) throw new UsageError(`invalid argument "${spec}" for "--mount" flag: invalid field '${field}' must be a key=value pair`);
      return value;
    };
    switch (key) {
      case 'type': m.Type = need(); break;
      case 'source': case 'src': m.Source = need(); break;
      case 'target': case 'dst': case 'destination': m.Target = need(); break;
      case 'readonly': case 'ro': m.ReadOnly = truth(); break;
      case 'consistency': m.Consistency = need(); break;
      case 'bind-propagation': bind.Propagation = need(); break;
      case 'volume-nocopy': vol.NoCopy = truth(); break;
      case 'volume-label': {
        const kv = need();
        const i = kv.indexOf('=');
        vol.Labels = { ...(vol.Labels as object | undefined), [i < 0 ? kv : kv.slice(0, i)]: i < 0 ? '' : kv.slice(i + 1) };
        break;
      }
      case 'volume-driver': vol.DriverConfig = { Name: need() }; break;
      case 'tmpfs-size': {
        const v = need();
        try {
          tmpfs.SizeBytes = ramInBytes(v);
        } catch (e) {
          throw new UsageError(`invalid argument "${spec}" for "--mount" flag: ${(e as Error).message}`);
        }
        break;
      }
      case 'tmpfs-mode': tmpfs.Mode = parseInt(need(), 8); break;
      default: throw new UsageError(`invalid argument "${spec}" for "--mount" flag: unexpected key '${key}' in '${field}'`);
    }
  }
  if (Object.keys(bind).length > 0) m.BindOptions = bind;
  if (Object.keys(vol).length > 0) m.VolumeOptions = vol;
  if (Object.keys(tmpfs).length > 0) m.TmpfsOptions = tmpfs;
  return m;
}

/** `--device HOST[:CONTAINER][:PERMS]` → a DeviceMapping. */
function parseDevice(spec: string): Record<string, string> {
  const parts = spec.split(':');
  let perms = 'rwm';
  let inside: string | undefined;
  if (parts.length === 3) {
    inside = parts[1];
    perms = parts[2]!;
  } else if (parts.length === 2) {
    if (/^[rwm]+$/.test(parts[1]!) && !parts[1]!.startsWith('/')) perms = parts[1]!;
    else inside = parts[1];
  } else if (parts.length !== 1) throw new UsageError(`invalid argument "${spec}" for "--device" flag: bad format for path: ${spec}`);
  if (!/^[rwm]+$/.test(perms)) throw new UsageError(`invalid argument "${spec}" for "--device" flag: bad mode specified: ${perms}`);
  return { PathOnHost: parts[0]!, PathInContainer: inside || parts[0]!, CgroupPermissions: perms };
}

/** docker reads `seccomp=FILE` on the client and sends the profile itself. */
function securityOpts(values: readonly string[]): string[] {
  return values.map((v) => {
    const m = /^seccomp[=:](.*)$/.exec(v);
    if (!m || m[1] === 'unconfined' || m[1] === 'builtin') return v;
    let text: string;
    try {
      text = readFileSync(m[1]!, 'utf8');
    } catch (e) {
      throw new UsageError(`invalid argument "${v}" for "--security-opt" flag: opening seccomp profile (${m[1]}) failed: ${(e as Error).message}`);
    }
    try {
      return `seccomp=${JSON.stringify(JSON.parse(text))}`;
    } catch (e) {
      throw new UsageError(`invalid argument "${v}" for "--security-opt" flag: compacting json for seccomp profile (${m[1]}) failed: ${(e as Error).message}`);
    }
  });
}

export function restartPolicy(v: string | undefined): { Name: string; MaximumRetryCount: number } | undefined {
  if (v === undefined) return undefined;
  const [name, count] = v.split(':');
  if (!['no', 'always', 'unless-stopped', 'on-failure', ''].includes(name!)) throw new UsageError(`invalid restart policy format`);
  if (count !== undefined && (name !== 'on-failure' || !/^\d+$/.test(count))) {
    throw new UsageError(name !== 'on-failure' ? `invalid restart policy format: maximum retry count cannot be used with restart policy '${name}'` : `invalid restart policy format: strconv.Atoi: parsing "${count}": invalid syntax`);
  }
  return { Name: name === 'no' ? '' : name!, MaximumRetryCount: count === undefined ? 0 : Number(count) };
}

/** --cpus as NanoCpus (docker's NanoCPUs flag: a decimal number of CPUs). */
export function nanoCpusOf(p: Parsed): number | undefined {
  const cpus = str(p, 'cpus');
  if (cpus === undefined) return undefined;
  if (!/^\d*\.?\d+$/.test(cpus)) throw invalid(cpus, 'cpus', `failed to parse ${cpus} as a rational number`);
  return Math.round(Number(cpus) * 1e9);
}

/** The create request of `run`/`create` arguments: IMAGE [COMMAND] [ARG...] after the flags. */
export function createRequest(p: Parsed, opts: { detach: boolean }): CreateRequest {
  wantArgs(p.rest, 1);
  const [image, ...cmd] = p.rest as [string, ...string[]];
  const attach = list(p, 'attach').map((a) => a.toLowerCase());
  for (const a of attach) if (!['stdin', 'stdout', 'stderr'].includes(a)) throw new UsageError(`invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
  const interactive = bool(p, 'interactive');
  const tty = bool(p, 'tty');
  let attachStdin = attach.includes('stdin');
  let attachStdout = attach.includes('stdout');
  let attachStderr = attach.includes('stderr');
  if (opts.detach) {
    if (attach.length > 0) throw new UsageError('Conflicting options: -a and -d');
  } else if (attach.length === 0) {
    attachStdout = true;
    attachStderr = true;
    attachStdin = interactive;
  }
  const rm = bool(p, 'rm');
  const restart = restartPolicy(str(p, 'restart'));
  if (rm && restart && restart.Name !== '') throw new UsageError('Conflicting options: --restart and --rm');

  const binds: string[] = [];
  const volumes: Record<string, object> = {};
  for (const v of list(p, 'volume')) {
    const parts = v.split(':');
    if (parts.some((x) => x === '') || parts.length > 3) throw new UsageError(`invalid argument "${v}" for "-v, --volume" flag: invalid spec: ${v}: empty section between colons`);
    if (parts.length === 1) volumes[v] = {};
    else binds.push(v);
  }
  const tmpfs: Record<string, string> = {};
  for (const t of list(p, 'tmpfs')) {
    const i = t.indexOf(':');
    tmpfs[i < 0 ? t : t.slice(0, i)] = i < 0 ? '' : t.slice(i + 1);
  }
  const ulimits = list(p, 'ulimit').map((u) => {
    try {
      return parseUlimit(u);
    } catch (e) {
      throw new UsageError(`invalid argument "${u}" for "--ulimit" flag: ${(e as Error).message}`);
    }
  });
  const nanoCpus = nanoCpusOf(p);
  const env = [...list(p, 'env-file').flatMap(envFile), ...list(p, 'env').map(envValue)];
  const healthCmd = str(p, 'health-cmd');
  const noHealth = bool(p, 'no-healthcheck');
  const interval = duration(p, 'health-interval');
  const timeout = duration(p, 'health-timeout');
  const startPeriod = duration(p, 'health-start-period');
  const retries = integer(p, 'health-retries');
  let healthcheck: Record<string, unknown> | undefined;
  if (noHealth) {
    if (healthCmd !== undefined || interval || timeout || startPeriod || retries) throw new UsageError('--no-healthcheck conflicts with --health-* options');
    healthcheck = { Test: ['NONE'] };
  } else if (healthCmd !== undefined || interval !== undefined || timeout !== undefined || startPeriod !== undefined || retries !== undefined) {
    healthcheck = {
      ...(healthCmd !== undefined && { Test: ['CMD-SHELL', healthCmd] }),
      ...(interval !== undefined && { Interval: interval }),
      ...(timeout !== undefined && { Timeout: timeout }),
      ...(startPeriod !== undefined && { StartPeriod: startPeriod }),
      ...(retries !== undefined && { Retries: retries }),
    };
  }
  const entrypoint = str(p, 'entrypoint');
  const pull = str(p, 'pull') ?? 'missing';
  if (!['missing', 'always', 'never'].includes(pull)) throw new UsageError(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);
  const logOpts = list(p, 'log-opt');
  const stopTimeout = integer(p, 'stop-timeout');
  const memory = size(p, 'memory', 'm');
  const memorySwap = size(p, 'memory-swap');
  const shares = integer(p, 'cpu-shares', 'c');
  const pids = integer(p, 'pids-limit');
  const net = networkRequest(p);

  const hostConfig: Record<string, unknown> = {
    Binds: binds.length > 0 ? binds : null,
    ...(list(p, 'mount').length > 0 && { Mounts: list(p, 'mount').map(parseMount) }),
    ...(Object.keys(tmpfs).length > 0 && { Tmpfs: tmpfs }),
    ReadonlyRootfs: bool(p, 'read-only'),
    ...(memory !== undefined && { Memory: memory }),
    ...(memorySwap !== undefined && { MemorySwap: memorySwap }),
    ...(nanoCpus !== undefined && { NanoCpus: nanoCpus }),
    ...(shares !== undefined && { CpuShares: shares }),
    ...(str(p, 'cpuset-cpus') !== undefined && { CpusetCpus: str(p, 'cpuset-cpus') }),
    ...(pids !== undefined && { PidsLimit: pids }),
    ...(ulimits.length > 0 && { Ulimits: ulimits }),
    CapAdd: list(p, 'cap-add').length > 0 ? list(p, 'cap-add') : null,
    CapDrop: list(p, 'cap-drop').length > 0 ? list(p, 'cap-drop') : null,
    Privileged: bool(p, 'privileged'),
    Devices: list(p, 'device').map(parseDevice),
    SecurityOpt: list(p, 'security-opt').length > 0 ? securityOpts(list(p, 'security-opt')) : null,
    ...(bool(p, 'init') && { Init: true }),
    RestartPolicy: restart ?? { Name: '', MaximumRetryCount: 0 },
    AutoRemove: rm,
    LogConfig: { Type: str(p, 'log-driver') ?? '', Config: keyValues(logOpts) },
    ...net.hostConfig,
    VolumesFrom: list(p, 'volumes-from').length > 0 ? list(p, 'volumes-from') : null,
    ...(str(p, 'runtime') !== undefined && { Runtime: str(p, 'runtime') }),
  };
  const body: CreateRequest['body'] = {
    ...(str(p, 'hostname') !== undefined && { Hostname: str(p, 'hostname') }),
    ...(str(p, 'user') !== undefined && { User: str(p, 'user') }),
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    Tty: tty,
    OpenStdin: interactive,
    StdinOnce: interactive && attachStdin,
    Env: env,
    Cmd: cmd.length > 0 ? cmd : null,
    Image: image,
    ...net.config,
    ...(Object.keys(volumes).length > 0 && { Volumes: volumes }),
    ...(str(p, 'workdir') !== undefined && { WorkingDir: str(p, 'workdir') }),
    ...(entrypoint !== undefined && { Entrypoint: [entrypoint] }),
    Labels: keyValues(list(p, 'label')),
    ...(str(p, 'stop-signal') !== undefined && { StopSignal: str(p, 'stop-signal') }),
    ...(stopTimeout !== undefined && { StopTimeout: stopTimeout }),
    ...(healthcheck && { Healthcheck: healthcheck }),
    HostConfig: hostConfig,
    ...(net.networkingConfig && { NetworkingConfig: net.networkingConfig }),
  };
  const name = str(p, 'name');
  return { ...(name !== undefined && { name }), image, pull: pull as CreateRequest['pull'], body };
}
