/**
 * `berth-oci update`: runc 1.1's flags (plus 1.2's --cpu-burst and --cpu-idle) turned into a
 * linux.resources fragment, or `-r FILE|-` read as one (then every other flag is ignored, as in
 * runc). containerd's shim sends `update --resources - ID` with the JSON on stdin.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Resources } from '../runtime/spec/types.ts';
import { ConfigError, parseResources } from '../runtime/spec/validate.ts';
import { RuntimeError } from '../runtime/errors.ts';
import { str, UsageError, type FlagDef, type Parsed } from './args.ts';

export const UPDATE_FLAGS: FlagDef[] = [
  { names: ['resources', 'r'], kind: 'string' },
  { names: ['blkio-weight'], kind: 'string' },
  { names: ['cpu-period'], kind: 'string' },
  { names: ['cpu-quota'], kind: 'string' },
  { names: ['cpu-burst'], kind: 'string' },
  { names: ['cpu-share', 'cpu-shares'], kind: 'string' },
  { names: ['cpu-rt-period'], kind: 'string' },
  { names: ['cpu-rt-runtime'], kind: 'string' },
  { names: ['cpu-idle'], kind: 'string' },
  { names: ['cpuset-cpus'], kind: 'string' },
  { names: ['cpuset-mems'], kind: 'string' },
  { names: ['kernel-memory'], kind: 'string' },
  { names: ['kernel-memory-tcp'], kind: 'string' },
  { names: ['memory'], kind: 'string' },
  { names: ['memory-reservation'], kind: 'string' },
  { names: ['memory-swap'], kind: 'string' },
  { names: ['pids-limit'], kind: 'string' },
  { names: ['l3-cache-schema'], kind: 'string' },
  { names: ['mem-bw-schema'], kind: 'string' },
];

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** docker's RAMInBytes: "64m", "1g", "1.5G", "512kb", "100" (bytes); binary units; -1 passes through. */
export function parseBytes(s: string, flag: string): number {
  if (s === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i.exec(s.trim());
  if (!m) throw new UsageError(`invalid value "${s}" for flag --${flag}: use a number of bytes with an optional unit (k, m, g, t, p), e.g. 64m`);
  return Math.floor(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!);
}

function integer(s: string, flag: string, unsigned: boolean): number {
  if (!(unsigned ? /^\d+$/ : /^-?\d+$/).test(s)) throw new UsageError(`invalid value "${s}" for flag --${flag}: not ${unsigned ? 'an unsigned' : 'an'} integer`);
  return Number(s);
}

/** Intel RDT (resctrl): berth-oci does not implement it; say so in runc's words when it is absent. */
function refuseRdt(p: Parsed): void {
  const l3 = str(p, 'l3-cache-schema');
  const mb = str(p, 'mem-bw-schema');
  if (l3 === undefined && mb === undefined) return;
  if (l3 !== undefined && !existsSync('/sys/fs/resctrl/info/L3')) throw new RuntimeError('Intel RDT/CAT: l3 cache schema is not enabled');
  if (mb !== undefined && !existsSync('/sys/fs/resctrl/info/MB')) throw new RuntimeError('Intel RDT/MBA: memory bandwidth schema is not enabled');
  throw new RuntimeError('Intel RDT (--l3-cache-schema, --mem-bw-schema) is not supported by berth-oci');
}

/** The resources an `update` command line asks for (only what it names). */
export function updateResources(p: Parsed, readStdin: () => string = () => readFileSync(0, 'utf8')): Resources {
  const file = str(p, 'resources');
  if (file !== undefined) {
    const name = file === '-' ? '<stdin>' : file;
    let text: string;
    try {
      text = file === '-' ? readStdin() : readFileSync(file, 'utf8');
    } catch (e) {
      throw new RuntimeError(`update: cannot read ${name}: ${(e as Error).message}`);
    }
    try {
      return parseResources(text, name);
    } catch (e) {
      if (e instanceof ConfigError) throw new RuntimeError(`update: ${e.message}`);
      throw e;
    }
  }
  refuseRdt(p);
  const r: Resources = {};
  const memory = (r.memory ??= {});
  const cpu = (r.cpu ??= {});
  const flag = (name: string) => str(p, name);
  for (const [name, key] of [['memory', 'limit'], ['memory-reservation', 'reservation'], ['memory-swap', 'swap'], ['kernel-memory', 'kernel'], ['kernel-memory-tcp', 'kernelTCP']] as const) {
    const v = flag(name);
    if (v !== undefined && v !== '') memory[key] = parseBytes(v, name);
  }
  for (const [name, key] of [['cpu-share', 'shares'], ['cpu-period', 'period'], ['cpu-rt-period', 'realtimePeriod'], ['cpu-burst', 'burst']] as const) {
    const v = flag(name);
    if (v !== undefined && v !== '') cpu[key] = integer(v, name, true);
  }
  for (const [name, key] of [['cpu-quota', 'quota'], ['cpu-rt-runtime', 'realtimeRuntime'], ['cpu-idle', 'idle']] as const) {
    const v = flag(name);
    if (v !== undefined && v !== '') cpu[key] = integer(v, name, false);
  }
  if (flag('cpuset-cpus')) cpu.cpus = flag('cpuset-cpus');
  if (flag('cpuset-mems')) cpu.mems = flag('cpuset-mems');
  // runc: 0 (its default) leaves these as they are
  const pids = flag('pids-limit');
  if (pids !== undefined && integer(pids, 'pids-limit', false) !== 0) r.pids = { limit: Number(pids) };
  const weight = flag('blkio-weight');
  if (weight !== undefined && integer(weight, 'blkio-weight', true) !== 0) r.blockIO = { weight: Number(weight) };
  if (!Object.keys(memory).length) delete r.memory;
  if (!Object.keys(cpu).length) delete r.cpu;
  return r;
}
