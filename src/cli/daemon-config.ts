/**
 * berthd's configuration: flags over /etc/berth/daemon.json (docker's daemon.json keys:
 * data-root, exec-root, hosts, insecure-registries, runtimes, default-runtime, debug, log-level,
 * group, bridge, bip; and berth's registry-stall-timeout, which BERTH_REGISTRY_STALL_TIMEOUT in
 * berthd's environment overrides, and nftables-table, the table of berth's rules: several daemons
 * on one host (tests) each need their own bridge, subnet and table). As dockerd, a key the file does not know is an error, and so is a setting given both
 * as a flag and in the file.
 */
import { readFile } from 'node:fs/promises';

import { LOG_LEVELS, type LogLevel } from '../engine/log.ts';
import type { RuntimeConfig } from '../engine/engine.ts';
import { DEFAULT_STALL_TIMEOUT_MS, parseDuration } from '../image/index.ts';

export const DEFAULT_CONFIG_FILE = '/etc/berth/daemon.json';
export const DEFAULT_DATA_ROOT = '/var/lib/berth';
export const DEFAULT_EXEC_ROOT = '/run/berth';
export const DEFAULT_SOCKET = '/run/berth/berth.sock';

export class DaemonConfigError extends Error {}

export interface DaemonConfig {
  dataRoot: string;
  execRoot: string;
  /** unix socket paths */
  hosts: string[];
  insecureRegistries: string[];
  runtimes: Record<string, RuntimeConfig>;
  defaultRuntime?: string;
  debug: boolean;
  logLevel: LogLevel;
  /** the group the sockets belong to (default `berth`, when it exists) */
  group: string;
  /** how long a registry may send nothing before an attempt is retried (ms; 0: never) */
  registryStallTimeoutMs: number;
  /** the default bridge network: its bridge's name, its address (docker's bip), berth's nftables table */
  network: { bridge: string; bip?: string; table: string };
}

/** What the command line set; undefined is "not given". */
export interface DaemonFlags {
  dataRoot?: string;
  execRoot?: string;
  hosts?: string[];
  insecureRegistries?: string[];
  defaultRuntime?: string;
  debug?: boolean;
  logLevel?: string;
  group?: string;
}

const KEYS: Record<string, FileKey> = {
  'data-root': 'dataRoot',
  'exec-root': 'execRoot',
  hosts: 'hosts',
  'insecure-registries': 'insecureRegistries',
  'default-runtime': 'defaultRuntime',
  debug: 'debug',
  'log-level': 'logLevel',
  group: 'group',
  runtimes: 'runtimes',
  'registry-stall-timeout': 'registryStallTimeout',
  bridge: 'bridge',
  bip: 'bip',
  'nftables-table': 'nftablesTable',
};

const isHostPort = (x: unknown): x is string => typeof x === 'string' && x !== '' && !/[\s/]/.test(x);

/** `-H unix:///path` (or a bare absolute path) → the socket path; other schemes are refused. */
export function socketOfHost(host: string): string {
  if (host.startsWith('unix://')) {
    const p = host.slice('unix://'.length);
    if (p.startsWith('/')) return p;
    throw new DaemonConfigError(`host ${JSON.stringify(host)}: want unix:///absolute/path`);
  }
  if (host.startsWith('/')) return host;
  throw new DaemonConfigError(`host ${JSON.stringify(host)}: berthd listens on unix sockets only (unix:///path); a TCP socket without TLS would hand root to the network`);
}

type FileKey = keyof DaemonFlags | 'runtimes' | 'registryStallTimeout' | 'bridge' | 'bip' | 'nftablesTable';

/**
 * A stall timeout: `30s`, `1.5` (seconds), `500ms`, `2m`; 0 turns the watch off. `where` names
 * its source in the error.
 */
export function parseStallTimeout(v: unknown, where: string): number {
  const text = typeof v === 'number' ? String(v) : v;
  if (text === '0' || text === '0s') return 0;
  const ms = typeof text === 'string' ? parseDuration(text) : undefined;
  if (ms === undefined) throw new DaemonConfigError(`${where}: want a duration such as "30s", "500ms" or a number of seconds, got ${JSON.stringify(v)}`);
  return ms;
}

function parseFile(text: string, file: string): Partial<Record<FileKey, unknown>> {
  if (text.trim() === '') return {}; // an empty file configures nothing
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new DaemonConfigError(`${file}: not JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new DaemonConfigError(`${file}: want a JSON object`);
  const unknown = Object.keys(doc).filter((k) => !(k in KEYS));
  if (unknown.length > 0) throw new DaemonConfigError(`${file}: the following directives don't match any configuration option: ${unknown.join(', ')}`);
  const out: Partial<Record<FileKey, unknown>> = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) out[KEYS[k]!] = v;
  return out;
}

function want<T>(ok: boolean, file: string, key: string, what: string, v: unknown): T {
  if (!ok) throw new DaemonConfigError(`${file}: "${key}": want ${what}, got ${JSON.stringify(v)}`);
  return v as T;
}

function runtimesOf(v: unknown, file: string): Record<string, RuntimeConfig> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new DaemonConfigError(`${file}: "runtimes": want an object of {"path": ..., "runtimeArgs": [...]}`);
  const out: Record<string, RuntimeConfig> = {};
  for (const [name, r] of Object.entries(v as Record<string, unknown>)) {
    const where = `${file}: "runtimes"."${name}"`;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new DaemonConfigError(`${where}: want an object`);
    const { path, runtimeArgs } = r as Record<string, unknown>;
    if (typeof path !== 'string' || path === '') throw new DaemonConfigError(`${where}.path: want the runtime's path or command name`);
    if (runtimeArgs !== undefined && !(Array.isArray(runtimeArgs) && runtimeArgs.every((a) => typeof a === 'string'))) {
      throw new DaemonConfigError(`${where}.runtimeArgs: want an array of strings`);
    }
    out[name] = { path, ...(runtimeArgs !== undefined && { runtimeArgs: runtimeArgs as string[] }) };
  }
  return out;
}

/** Merges `flags` over the file at `file` (which may be absent unless `required`). */
export async function loadDaemonConfig(flags: DaemonFlags, file: string, required: boolean, env: NodeJS.ProcessEnv = process.env): Promise<DaemonConfig> {
  let fromFile: ReturnType<typeof parseFile> = {};
  try {
    fromFile = parseFile(await readFile(file, 'utf8'), file);
  } catch (e) {
    if (e instanceof DaemonConfigError) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || required) throw new DaemonConfigError(`${file}: ${(e as Error).message}`);
  }
  const both = (Object.keys(fromFile) as (keyof DaemonFlags)[]).filter((k) => flags[k] !== undefined);
  if (both.length > 0) {
    const key = (k: string): string => Object.entries(KEYS).find(([, v]) => v === k)![0];
    throw new DaemonConfigError(`the following directives are specified both as a flag and in the configuration file (${file}): ${both.map((k) => `${key(k)}: (from flag: ${JSON.stringify(flags[k])}, from file: ${JSON.stringify(fromFile[k])})`).join(', ')}`);
  }
  const f = fromFile;
  const str = (k: keyof DaemonFlags, name: string): string | undefined => (f[k] === undefined ? undefined : want<string>(typeof f[k] === 'string' && f[k] !== '', file, name, 'a string', f[k]));
  const strs = (k: keyof DaemonFlags, name: string, ok: (x: unknown) => boolean): string[] | undefined =>
    (f[k] === undefined ? undefined : want<string[]>(Array.isArray(f[k]) && (f[k] as unknown[]).every(ok), file, name, 'an array of strings', f[k]));

  const logLevel = flags.logLevel ?? str('logLevel', 'log-level') ?? 'info';
  if (!(LOG_LEVELS as string[]).includes(logLevel)) throw new DaemonConfigError(`log level ${JSON.stringify(logLevel)}: want one of ${LOG_LEVELS.join(', ')}`);
  const insecure = flags.insecureRegistries ?? strs('insecureRegistries', 'insecure-registries', isHostPort) ?? [];
  for (const h of insecure) if (!isHostPort(h)) throw new DaemonConfigError(`insecure registry ${JSON.stringify(h)}: want HOST[:PORT]`);
  const hosts = (flags.hosts ?? strs('hosts', 'hosts', (x) => typeof x === 'string') ?? [`unix://${DEFAULT_SOCKET}`]).map(socketOfHost);
  const debug = flags.debug ?? (f.debug === undefined ? false : want<boolean>(typeof f.debug === 'boolean', file, 'debug', 'true or false', f.debug));
  const defaultRuntime = flags.defaultRuntime ?? str('defaultRuntime', 'default-runtime');
  const fileStr = (k: FileKey, name: string, ok: RegExp, what: string): string | undefined =>
    (f[k] === undefined ? undefined : want<string>(typeof f[k] === 'string' && ok.test(f[k] as string), file, name, what, f[k]));
  const bridge = fileStr('bridge', 'bridge', /^[a-zA-Z0-9_.-]{1,15}$/, 'an interface name of at most 15 characters') ?? 'berth0';
  const bip = fileStr('bip', 'bip', /^[0-9.]+\/\d+$/, 'an IPv4 address with its prefix length, such as "172.17.0.1/16"');
  const table = fileStr('nftablesTable', 'nftables-table', /^[a-zA-Z][a-zA-Z0-9_-]{0,31}$/, 'an nftables table name') ?? 'berth';
  return {
    dataRoot: flags.dataRoot ?? str('dataRoot', 'data-root') ?? DEFAULT_DATA_ROOT,
    execRoot: flags.execRoot ?? str('execRoot', 'exec-root') ?? DEFAULT_EXEC_ROOT,
    hosts: [...new Set(hosts)],
    insecureRegistries: insecure,
    runtimes: f.runtimes === undefined ? {} : runtimesOf(f.runtimes, file),
    ...(defaultRuntime !== undefined && { defaultRuntime }),
    debug,
    logLevel: debug && flags.logLevel === undefined && f.logLevel === undefined ? 'debug' : (logLevel as LogLevel),
    group: flags.group ?? str('group', 'group') ?? 'berth',
    registryStallTimeoutMs: env.BERTH_REGISTRY_STALL_TIMEOUT !== undefined && env.BERTH_REGISTRY_STALL_TIMEOUT !== ''
      ? parseStallTimeout(env.BERTH_REGISTRY_STALL_TIMEOUT, 'BERTH_REGISTRY_STALL_TIMEOUT')
      : f.registryStallTimeout !== undefined ? parseStallTimeout(f.registryStallTimeout, `${file}: "registry-stall-timeout"`) : DEFAULT_STALL_TIMEOUT_MS,
    network: { bridge, ...(bip !== undefined && { bip }), table },
  };
}
