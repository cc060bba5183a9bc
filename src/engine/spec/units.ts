/**
 * docker's size and ulimit strings (github.com/docker/go-units): `512m`, `1g`, `1.5GB` and
 * `nofile=1024:2048`, with go-units' messages (`invalid size: '12q'`). The CLI parses flags
 * with these; the engine uses them for `--log-opt max-size` and the like.
 */
import { InvalidParameterError } from '../errors.ts';
import type { Ulimit } from './docker-types.ts';

const SIZE = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/;
const POWERS: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5 };

function parseSize(s: string, base: number): number {
  const m = SIZE.exec(s);
  if (!m) throw new InvalidParameterError(`invalid size: '${s}'`);
  const n = Number(m[1]);
  const unit = m[2]?.toLowerCase();
  return Math.trunc(n * (unit ? base ** POWERS[unit]! : 1));
}

/** go-units RAMInBytes: binary units (`512m` = 512 MiB), as `--memory` and `--shm-size` take. */
export const ramInBytes = (s: string): number => parseSize(s, 1024);

/** go-units FromHumanSize: decimal units (`10m` = 10 000 000), as `--log-opt max-size` takes. */
export const fromHumanSize = (s: string): number => parseSize(s, 1000);

const RLIMITS = new Set(['as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);

/** go-units ParseUlimit: `name=soft[:hard]`. */
export function parseUlimit(s: string): Ulimit {
  const eq = s.indexOf('=');
  if (eq < 0) throw new InvalidParameterError(`invalid ulimit argument: ${s}`);
  const name = s.slice(0, eq);
  if (!RLIMITS.has(name)) throw new InvalidParameterError(`invalid ulimit type: ${name}`);
  const parts = s.slice(eq + 1).split(':');
  if (parts.length > 2) throw new InvalidParameterError(`too many limit value arguments - ${s.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  const num = (v: string): number => {
    if (!/^-?\d+$/.test(v)) throw new InvalidParameterError(`invalid ulimit argument: ${s}`);
    return Number(v);
  };
  const soft = num(parts[0]!);
  const hard = parts.length === 2 ? num(parts[1]!) : soft;
  if (soft > hard) throw new InvalidParameterError(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: name, Soft: soft, Hard: hard };
}
