/**
 * How the berth CLI reaches registries: the credentials docker's config.json holds (see
 * src/image/auth) and which registries may be spoken to over plain HTTP. Loopback registries
 * (127.0.0.0/8, localhost, ::1) always may, as docker allows; others only when named by
 * `--insecure-registry HOST[:PORT]` or by `insecure-registries` in berth's daemon.json (docker's
 * key, in /etc/berth/daemon.json or the file BERTH_DAEMON_CONFIG names), as docker's daemon.json;
 * and how long a registry may stall before an attempt is retried (`registry-stall-timeout` there,
 * or BERTH_REGISTRY_STALL_TIMEOUT).
 */
import { readFileSync } from 'node:fs';

import { credentialsFor, DEFAULT_STALL_TIMEOUT_MS, parseDuration, type RegistryClientOptions } from '../../image/index.ts';

export const DEFAULT_DAEMON_CONFIG = '/etc/berth/daemon.json';

export class DaemonConfigError extends Error {}

/** HOST[:PORT] as docker takes it here: no scheme, no path, no spaces. */
const isHostPort = (x: unknown): x is string => typeof x === 'string' && x !== '' && !/[\s/]/.test(x);

/** The daemon config at `path` as a JSON object ({} when the file does not exist). */
function daemonConfig(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new DaemonConfigError(`${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new DaemonConfigError(`${path}: not JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new DaemonConfigError(`${path}: want a JSON object`);
  return doc as Record<string, unknown>;
}

/** `insecure-registries` of the daemon config at `path` ([] when the file does not exist). */
export function insecureFromConfig(path: string): string[] {
  const list = daemonConfig(path)['insecure-registries'];
  if (list === undefined) return [];
  if (!Array.isArray(list) || !list.every(isHostPort)) {
    throw new DaemonConfigError(`${path}: "insecure-registries": want an array of HOST[:PORT] strings`);
  }
  return list as string[];
}

/**
 * How long a registry may send nothing before an attempt fails (ms): BERTH_REGISTRY_STALL_TIMEOUT,
 * else `registry-stall-timeout` of the daemon config, else 30 s. A duration: `30s`, `1.5`
 * (seconds), `500ms`, `2m`; 0 turns the watch off.
 */
export function stallTimeoutMs(path: string, env: NodeJS.ProcessEnv): number {
  const parse = (v: unknown, where: string): number => {
    const text = typeof v === 'number' ? String(v) : v;
    if (text === '0' || text === '0s') return 0;
    const ms = typeof text === 'string' ? parseDuration(text) : undefined;
    if (ms === undefined) throw new DaemonConfigError(`${where}: want a duration such as "30s", "500ms" or a number of seconds, got ${JSON.stringify(v)}`);
    return ms;
  };
  const fromEnv = env.BERTH_REGISTRY_STALL_TIMEOUT;
  if (fromEnv !== undefined && fromEnv !== '') return parse(fromEnv, 'BERTH_REGISTRY_STALL_TIMEOUT');
  const fromConfig = daemonConfig(path)['registry-stall-timeout'];
  if (fromConfig !== undefined) return parse(fromConfig, `${path}: "registry-stall-timeout"`);
  return DEFAULT_STALL_TIMEOUT_MS;
}

/** The registry client options of one CLI invocation. */
export function registryOptions(flagInsecure: readonly string[], env: NodeJS.ProcessEnv = process.env): RegistryClientOptions {
  for (const h of flagInsecure) {
    if (!isHostPort(h)) throw new DaemonConfigError(`--insecure-registry ${JSON.stringify(h)}: want HOST[:PORT]`);
  }
  const config = env.BERTH_DAEMON_CONFIG ?? DEFAULT_DAEMON_CONFIG;
  const insecure = [...insecureFromConfig(config), ...flagInsecure];
  return { credentialsFor, stallTimeoutMs: stallTimeoutMs(config, env), ...(insecure.length > 0 && { insecure }) };
}
