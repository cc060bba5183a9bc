/**
 * Overlay mounts of a container's image layers plus its writable upper dir, for bundles on disk.
 * They are made by berth-init (native/src/overlay.c) as one-off plans in its own mount namespace,
 * the host's, so the mount is visible to berth-oci and to anyone reading the bundle:
 *   overlay_mount TARGET UPPER WORK LOWER1 [LOWER2 ...]   lowers top-most first
 *   umount TARGET
 * berth-init uses the new mount API with one fsconfig("lowerdir+") per layer, so the layer count is
 * not capped by mount(2)'s one-page option string (a 100-layer image mounts).
 */
import { isAbsolute } from 'node:path';
import { Plan } from '../../native/plan.ts';
import { runOneOffPlan } from '../../native/helper.ts';

function checkPath(what: string, p: string): void {
  if (typeof p !== 'string' || !isAbsolute(p)) throw new Error(`overlay: ${what} must be an absolute path, got ${JSON.stringify(p)}`);
  // overlayfs parses ':' and ',' in lowerdir= (and escapes them with '\'); keep paths plain
  if (/[\0\n\t]/.test(p)) throw new Error(`overlay: ${what} ${JSON.stringify(p)} contains a NUL, newline or tab`);
}

/** The plan `mountOverlay` runs (exported for tests and traces). */
export function overlayMountPlan(target: string, upper: string, work: string, lowers: readonly string[]): Plan {
  checkPath('target', target);
  checkPath('upper dir', upper);
  checkPath('work dir', work);
  if (lowers.length === 0) throw new Error('overlay: at least one lower dir (image layer) is needed');
  lowers.forEach((l, i) => checkPath(`lower dir ${i}`, l));
  // callers list layers bottom-first (image order); overlayfs wants the top-most first
  const plan = new Plan();
  plan.add('overlay_mount', target, upper, work, ...[...lowers].reverse());
  return plan.add('done');
}

/**
 * Mounts an overlay on `target`: `lowers` are the image's layer dirs bottom-first (the image
 * manifest's order), `upper` and `work` the container's own dirs (on the same filesystem).
 */
export async function mountOverlay(target: string, upper: string, work: string, lowers: readonly string[]): Promise<void> {
  await runOneOffPlan(overlayMountPlan(target, upper, work, lowers), `mounting the overlay on ${target}`);
}

/** Unmounts `target` (no lazy detach: a busy mount fails with EBUSY, named in the error). */
export async function unmountOverlay(target: string): Promise<void> {
  checkPath('target', target);
  await runOneOffPlan(new Plan().add('umount', target).add('done'), `unmounting ${target}`);
}
