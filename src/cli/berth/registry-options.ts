/**
 * How the berth CLI reaches registries: the credentials docker's config.json holds (see
 * src/image/auth) and which registries may be spoken to over plain HTTP. Loopback registries
 * (127.0.0.0/8, localhost, ::1) always may, as docker allows; others only when named by
 * `--insecure-registry HOST[:PORT]` or by `insecure-registries` in berth's daemon.json (docker's
 * key, in /etc/berth/daemon.json or the file BERTH_DAEMON_CONFIG names), as docker's daemon.json.
 */
import { readFileSync } from 'node:fs';

import { credentialsFor } from '../../image/auth/index.ts';
import type { RegistryClientOptions } from '../../image/registry/client.ts';

export const DEFAULT_DAEMON_CONFIG = '/etc/berth/daemon.json';

export class DaemonConfigError extends Error {}

/** HOST[:PORT] as docker takes it here: no scheme, no path, no spaces. */
const isHostPort = (x: unknown): x is string => typeof x === 'string' && x !== '' && !/[\s/]/.test(x);

/** `insecure-registries` of the daemon config at `path` ([] when the file does not exist). */
export function insecureFromConfig(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new DaemonConfigError(`${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new DaemonConfigError(`${path}: not JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new DaemonConfigError(`${path}: want a JSON object`);
  const list = (doc as Record<string, unknown>)['insecure-registries'];
  if (list === undefined) return [];
  if (!Array.isArray(list) || !list.every(isHostPort)) {
    throw new DaemonConfigError(`${path}: "insecure-registries": want an array of HOST[:PORT] strings`);
  }
  return list as string[];
}

/** The registry client options of one CLI invocation. */
export function registryOptions(flagInsecure: readonly string[], env: NodeJS.ProcessEnv = process.env): RegistryClientOptions {
  for (const h of flagInsecure) {
    if (!isHostPort(h)) throw new DaemonConfigError(`--insecure-registry ${JSON.stringify(h)}: want HOST[:PORT]`);
  }
  const insecure = [...insecureFromConfig(env.BERTH_DAEMON_CONFIG ?? DEFAULT_DAEMON_CONFIG), ...flagInsecure];
  return { credentialsFor, ...(insecure.length > 0 && { insecure }) };
}
