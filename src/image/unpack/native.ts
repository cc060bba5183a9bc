/**
 * The part of layer unpacking Node cannot do (mknod of devices and FIFOs, setxattr, overlay
 * whiteouts), collected as berth-init records and run as one one-off plan per layer. The records
 * (native/src/layerops.c) resolve every path with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS)
 * against the layer root:
 *   mknod_at ROOT REL MODE DEV UID GID
 *   setxattr_at ROOT REL NAME HEX
 */
import { HelperSession } from '../../native/helper.ts';
import { Plan } from '../../native/plan.ts';

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** glibc's makedev(): the dev_t for a major/minor pair. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

export type NativeRecord =
  | { op: 'mknod_at'; rel: string; mode: number; dev: bigint; uid: number; gid: number; mtime: number }
  | { op: 'setxattr_at'; rel: string; name: string; value: Buffer };

export function nativePlan(root: string, records: readonly NativeRecord[]): Plan {
  const plan = new Plan();
  for (const r of records) {
    if (r.op === 'mknod_at') plan.add('mknod_at', root, r.rel, r.mode, r.dev, r.uid, r.gid);
    else plan.add('setxattr_at', root, r.rel, r.name, r.value.toString('hex'));
  }
  return plan.add('done');
}

/** Runs the records through berth-init; a failed record throws with berth-init's message. */
export async function runNative(root: string, records: readonly NativeRecord[], what: string): Promise<void> {
  if (records.length === 0) return;
  const session = new HelperSession({ preserveFds: 0, what });
  session.sendPlan(nativePlan(root, records));
  const m = await session.next(what);
  if (m.kind !== 'done') throw new Error(`${what}: expected "done" from berth-init, got "${m.kind}"`);
  const exit = await session.wait();
  if (exit.code !== 0) throw new Error(`${what}: berth-init exited with ${exit.signal ?? exit.code} after "done"`);
}
