/**
 * v1 blkio controller: the proportional weight (blkio.weight of CFQ, gone since Linux 5.0, or
 * blkio.bfq.weight of BFQ) and the throttle limits (blkio.throttle.*_device, "MAJ:MIN VALUE").
 *
 * A weight only acts on devices whose I/O scheduler is BFQ (or CFQ): with mq-deadline, kyber or
 * none it is accepted and does nothing, so that case gets a warning naming the schedulers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Controller, Stats } from '../controller.ts';
import type { Resources, ThrottleDevice } from '../../spec/types.ts';
import { has, read, write } from '../files.ts';
import { majMin } from './files.ts';

/** The active I/O scheduler of each block device under `sysfs` ("vda" → "mq-deadline"). */
function schedulers(sysfs: string): Map<string, string> {
  const out = new Map<string, string>();
  let names: string[] = [];
  try {
    names = readdirSync(`${sysfs}/block`);
  } catch { /* no sysfs */ }
  for (const name of names) {
    try {
      const s = readFileSync(`${sysfs}/block/${name}/queue/scheduler`, 'utf8');
      out.set(name, /\[([^\]]+)\]/.exec(s)?.[1] ?? s.trim());
    } catch { /* no queue */ }
  }
  return out;
}

/** The scheduler of device MAJ:MIN (a partition's is its disk's), or undefined if unknown. */
function schedulerOf(sysfs: string, major: number, minor: number): string | undefined {
  for (const q of [`${sysfs}/dev/block/${majMin(major, minor)}/queue/scheduler`, `${sysfs}/dev/block/${majMin(major, minor)}/../queue/scheduler`]) {
    try {
      const s = readFileSync(q, 'utf8');
      return /\[([^\]]+)\]/.exec(s)?.[1] ?? s.trim();
    } catch { /* try the parent */ }
  }
  return undefined;
}

function describe(scheds: Map<string, string>): string {
  const parts = [...scheds].filter(([n]) => !/^(loop|ram|zram)\d+$/.test(n)).map(([n, s]) => `${n}: ${s}`);
  return parts.length ? parts.join(', ') : 'no block devices';
}

const THROTTLES: ReadonlyArray<[keyof NonNullable<Resources['blockIO']>, string]> = [
  ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
  ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
  ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
  ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
];

function parseStatFile(text: string | undefined): { major: number; minor: number; op: string; value: number }[] {
  const out: { major: number; minor: number; op: string; value: number }[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\S+) (\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

/** The blkio controller reading block device facts from `sysfs` (a fake tree in unit tests). */
export function blkioController(sysfs = '/sys'): Controller {
  function apply(dir: string, res: Resources): string[] {
    const b = res.blockIO;
    if (!b) return [];
    const warnings: string[] = [];
    const cfq = has(dir, 'blkio.weight');
    const bfq = !cfq && has(dir, 'blkio.bfq.weight');
    if (b.weight) {
      if (cfq) write(dir, 'blkio.weight', b.weight);
      else if (bfq) {
        write(dir, 'blkio.bfq.weight', b.weight);
        const scheds = schedulers(sysfs);
        if (![...scheds.values()].includes('bfq')) {
          warnings.push(`blockIO.weight ${b.weight}: written to blkio.bfq.weight, but no block device uses the bfq I/O scheduler (${describe(scheds)}): the weight has no effect`);
        }
      } else {
        warnings.push(`blockIO.weight ${b.weight}: this kernel has no proportional I/O weight (no blkio.weight: the CFQ scheduler was removed in Linux 5.0; no blkio.bfq.weight: BFQ is not loaded); ignored`);
      }
    }
    if (b.leafWeight) {
      if (has(dir, 'blkio.leaf_weight')) write(dir, 'blkio.leaf_weight', b.leafWeight);
      else warnings.push(`blockIO.leafWeight ${b.leafWeight}: this kernel has no blkio.leaf_weight (a CFQ feature; CFQ was removed in Linux 5.0); ignored`);
    }
    for (const wd of b.weightDevice ?? []) {
      const dev = majMin(wd.major, wd.minor);
      if (wd.weight) {
        if (cfq) write(dir, 'blkio.weight_device', `${dev} ${wd.weight}`);
        else if (bfq && has(dir, 'blkio.bfq.weight_device')) {
          const sched = schedulerOf(sysfs, wd.major, wd.minor);
          if (sched !== undefined && sched !== 'bfq') warnings.push(`blockIO.weightDevice ${dev} weight ${wd.weight}: device ${dev} uses the ${sched} I/O scheduler, not bfq; ignored`);
          else write(dir, 'blkio.bfq.weight_device', `${dev} ${wd.weight}`);
        } else warnings.push(`blockIO.weightDevice ${dev} weight ${wd.weight}: this kernel has no per-device I/O weight (no blkio.weight_device or blkio.bfq.weight_device); ignored`);
      }
      if (wd.leafWeight) {
        if (has(dir, 'blkio.leaf_weight_device')) write(dir, 'blkio.leaf_weight_device', `${dev} ${wd.leafWeight}`);
        else warnings.push(`blockIO.weightDevice ${dev} leafWeight ${wd.leafWeight}: this kernel has no blkio.leaf_weight_device (CFQ only); ignored`);
      }
    }
    for (const [key, file] of THROTTLES) {
      const list = b[key] as ThrottleDevice[] | undefined;
      if (!list?.length) continue;
      if (!has(dir, file)) {
        warnings.push(`blockIO.${key}: this kernel has no ${file} (built without CONFIG_BLK_DEV_THROTTLING); ignored`);
        continue;
      }
      // a rate of 0 is written too: it removes the device's limit
      for (const t of list) write(dir, file, `${majMin(t.major, t.minor)} ${t.rate}`);
    }
    return warnings;
  }

  function stats(dir: string, into: Stats): void {
    const pick = (base: string) => read(dir, `${base}_recursive`) ?? read(dir, base);
    const bytes = pick('blkio.throttle.io_service_bytes');
    const ios = pick('blkio.throttle.io_serviced');
    if (bytes === undefined && ios === undefined) return;
    into.blkio = { ioServiceBytesRecursive: parseStatFile(bytes), ioServicedRecursive: parseStatFile(ios) };
  }

  return { name: 'blkio', apply, stats };
}

export const blkio: Controller = blkioController();
