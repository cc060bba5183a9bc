/**
 * The local driver's options, as docker 20.10's volume/local (local_unix.go): `type`, `device`
 * and `o` ask for a filesystem mounted on the volume's `_data` while the volume is in use
 * (`-o type=tmpfs -o device=tmpfs -o o=size=64m`, or a bind: `-o type=none -o o=bind -o
 * device=/path`). The mount is made by mount(8), which parses `o` into flags and data as
 * moby's mount.Mount does and runs the filesystem's helper (mount.nfs) where one is needed.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

import { InvalidParameterError, SystemError } from '../errors.ts';

const MOUNT = '/bin/mount';
const UMOUNT = '/bin/umount';

const VALID = new Set(['type', 'device', 'o']);
/** an option that needs others with it (moby's mandatoryOpts) */
const MANDATORY: readonly [string, string][] = [['device', 'type'], ['type', 'device'], ['o', 'device']];

/** Checks a create request's DriverOpts; the message is docker's (the caller prefixes `create NAME: `). */
export function validateOptions(opts: Record<string, string> | null): void {
  if (!opts) return;
  for (const k of Object.keys(opts)) {
    if (k === 'size') throw new InvalidParameterError('quota size requested but no quota support');
    if (!VALID.has(k)) throw new InvalidParameterError(`invalid option: ${JSON.stringify(k)}`);
  }
  for (const [opt, need] of MANDATORY) {
    if (opt in opts && !(need in opts)) throw new InvalidParameterError(`missing required option: ${JSON.stringify(need)}`);
  }
}

/** The volume's data is a mount of its own (moby's needsMount). */
export function needsMount(opts: Record<string, string> | null): boolean {
  return !!opts && ((opts.device ?? '') !== '' || (opts.type ?? '') !== '');
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 1 << 20 }, (err, _out, stderr) => {
      if (err) reject(new Error(String(stderr).trim().split('\n')[0] || err.message, { cause: err }));
      else resolve();
    });
  });
}

/** Mounts the volume's filesystem on `target` (its `_data`). */
export async function mountVolume(opts: Record<string, string>, target: string): Promise<void> {
  const device = opts.device ?? '';
  if (device === '') throw new SystemError('failed to mount local volume: missing device in volume options');
  const args = ['--no-mtab', '-t', opts.type || 'none'];
  if ((opts.o ?? '') !== '') args.push('-o', opts.o!);
  args.push('--', device, target);
  try {
    await run(MOUNT, args);
  } catch (e) {
    throw new SystemError(`failed to mount local volume: mount ${device}:${target}, flags: ${opts.o ?? ''}: ${(e as Error).message}`, { cause: e });
  }
}

/** `\040` etc. in /proc/self/mountinfo fields */
const unescapeMountinfo = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Whether something is mounted on exactly `path` (an absolute path without symlinks). */
export async function isMountPoint(path: string): Promise<boolean> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4 && unescapeMountinfo(f[4]!) === path) return true;
  }
  return false;
}

/**
 * Unmounts every mount stacked on `target`. docker detaches (MNT_DETACH); so does berth: a
 * process of an exited container may still hold a file open there.
 */
export async function unmountVolume(target: string): Promise<void> {
  while (await isMountPoint(target)) {
    try {
      await run(UMOUNT, ['--no-mtab', '--lazy', '--', target]);
    } catch (e) {
      if (await isMountPoint(target)) throw new SystemError(`failed to unmount local volume at ${target}: ${(e as Error).message}`, { cause: e });
    }
  }
}
