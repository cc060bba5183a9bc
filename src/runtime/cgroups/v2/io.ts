/**
 * cgroup v2 io (blockIO in the spec): weight → io.bfq.weight (the BFQ scheduler's, same 10..1000
 * range as v1) or else io.weight (1..10000, runc's conversion); throttles → io.max, one line per
 * device ("MAJ:MIN rbps=… wbps=… riops=… wiops=…"). Statistics from io.stat in runc's shapes.
 */
import type { Resources, ThrottleDevice } from '../../spec/types.ts';
import type { Controller, Stats } from '../controller.ts';
import { has, read, write } from '../files.ts';
import { checkInt } from './files.ts';

/** v1 blkio.weight [10, 1000] → v2 io.weight [1, 10000] (runc's ConvertBlkIOToIOWeightValue); 0 = unset. */
export function blkioToIOWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** io.max lines, one per device, from the spec's four throttle lists (a rate of 0 removes the limit, as on v1). */
export function ioMaxLines(b: NonNullable<Resources['blockIO']>): string[] {
  const byDev = new Map<string, string[]>();
  const lists: [string, ThrottleDevice[] | undefined][] = [
    ['rbps', b.throttleReadBpsDevice], ['wbps', b.throttleWriteBpsDevice],
    ['riops', b.throttleReadIOPSDevice], ['wiops', b.throttleWriteIOPSDevice],
  ];
  for (const [key, list] of lists) {
    for (const d of list ?? []) {
      checkInt(`blockIO throttle ${key} major`, d.major, 0);
      checkInt(`blockIO throttle ${key} minor`, d.minor, 0);
      checkInt(`blockIO throttle ${key} rate`, d.rate, 0);
      const dev = `${d.major}:${d.minor}`;
      const kv = byDev.get(dev) ?? [];
      kv.push(`${key}=${d.rate === 0 ? 'max' : d.rate}`);
      byDev.set(dev, kv);
    }
  }
  return [...byDev].map(([dev, kv]) => `${dev} ${kv.join(' ')}`);
}

export const io: Controller = {
  name: 'io',

  apply(dir: string, res: Resources): string[] {
    const b = res.blockIO;
    if (!b) return [];
    const warnings: string[] = [];
    const bfq = has(dir, 'io.bfq.weight');
    const plain = has(dir, 'io.weight');
    const noWeight = 'neither io.bfq.weight (the BFQ scheduler) nor io.weight exists for this cgroup (a scheduler without proportional weights, such as mq-deadline or none, or the io controller is not enabled)';

    if (b.weight !== undefined && b.weight !== 0) {
      checkInt('blockIO.weight', b.weight, 10, 1000);
      if (bfq) write(dir, 'io.bfq.weight', String(b.weight));
      else if (plain) write(dir, 'io.weight', `default ${blkioToIOWeight(b.weight)}`);
      else warnings.push(`cgroup v2: blockIO.weight ${b.weight} ignored: ${noWeight}`);
    }
    if (b.leafWeight !== undefined && b.leafWeight !== 0) {
      warnings.push(`cgroup v2: blockIO.leafWeight ${b.leafWeight} ignored: cgroup v2 has no leaf weights`);
    }
    for (const d of b.weightDevice ?? []) {
      if (d.leafWeight) warnings.push(`cgroup v2: blockIO.weightDevice ${d.major}:${d.minor} leafWeight ignored: cgroup v2 has no leaf weights`);
      if (d.weight === undefined || d.weight === 0) continue;
      checkInt(`blockIO.weightDevice ${d.major}:${d.minor} weight`, d.weight, 10, 1000);
      if (bfq) write(dir, 'io.bfq.weight', `${d.major}:${d.minor} ${d.weight}`);
      else if (plain) write(dir, 'io.weight', `${d.major}:${d.minor} ${blkioToIOWeight(d.weight)}`);
      else warnings.push(`cgroup v2: blockIO.weightDevice ${d.major}:${d.minor} ignored: ${noWeight}`);
    }

    const lines = ioMaxLines(b);
    if (lines.length && !has(dir, 'io.max')) {
      warnings.push(`cgroup v2: blockIO throttles ignored: io.max does not exist (the io controller is not enabled for this cgroup)`);
    } else {
      // one device per write: the kernel parses a single line per write
      for (const line of lines) write(dir, 'io.max', line);
    }
    return warnings;
  },

  stats(dir: string, into: Stats): void {
    const text = read(dir, 'io.stat');
    if (text === undefined) return;
    const bytes: { major: number; minor: number; op: string; value: number }[] = [];
    const ios: typeof bytes = [];
    for (const line of text.split('\n')) {
      const [dev, ...kvs] = line.trim().split(/\s+/);
      const m = /^(\d+):(\d+)$/.exec(dev ?? '');
      if (!m) continue;
      const major = Number(m[1]);
      const minor = Number(m[2]);
      for (const kv of kvs) {
        const [k, v] = kv.split('=');
        const value = Number(v);
        if (k === 'rbytes') bytes.push({ major, minor, op: 'Read', value });
        else if (k === 'wbytes') bytes.push({ major, minor, op: 'Write', value });
        else if (k === 'rios') ios.push({ major, minor, op: 'Read', value });
        else if (k === 'wios') ios.push({ major, minor, op: 'Write', value });
      }
    }
    into.blkio = { ioServiceBytesRecursive: bytes, ioServicedRecursive: ios };
  },
};
