/**
 * Copy-up: a new (empty) volume mounted over a directory of the image gets that directory's
 * content, as docker's CopyImagePathContent does (container/container_unix.go): the path is
 * resolved inside the rootfs (an image's symlink never leads onto the host), nothing is copied
 * into a volume that already has content, and the volume's root takes the directory's owner and
 * mode. The tree is copied by GNU cp -a, the project's way to copy a tree with everything Node's
 * fs cannot (xattrs such as file capabilities, hard links kept as links, symlinks copied as
 * symlinks and never followed, owners, modes, times, device nodes).
 */
import { execFile } from 'node:child_process';
import { chmod, chown, lstat, readdir } from 'node:fs/promises';

import { resolveInRootfs } from '../spec/rootfs-path.ts';
import { InvalidParameterError, SystemError } from '../errors.ts';

const CP = '/bin/cp';

/**
 * Copies the image's content at `dest` (absolute, in the container) under `rootfs` into the
 * volume directory `target` if `target` is empty. Returns whether it copied: nothing is at
 * `dest` in the image, or the volume has content, is no copy.
 */
export async function copyUp(target: string, rootfs: string, dest: string): Promise<boolean> {
  const src = await resolveInRootfs(rootfs, dest);
  let st;
  try {
    st = await lstat(src);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw e;
  }
  // resolveInRootfs followed every symlink, so a link here means the image changed under us
  if (!st.isDirectory()) throw new InvalidParameterError(`cannot mount volume over existing file, file exists ${src}`);
  if ((await readdir(target)).length !== 0) return false;
  await new Promise<void>((resolve, reject) => {
    // -a: -dR --preserve=all (no dereference anywhere); -T: src IS target, so its content and its
    // own owner/mode/times land on the volume's root; -x: a mount under src is not the image's
    execFile(CP, ['-a', '-T', '--one-file-system', '--', src, target], { maxBuffer: 1 << 20 }, (err, _out, stderr) => {
      if (err) reject(new SystemError(`copying the image's content at ${dest} into the volume: ${String(stderr).trim().split('\n')[0] || err.message}`, { cause: err }));
      else resolve();
    });
  });
  // docker's copyOwnership, explicitly: cp -a already did it, unless a tmpfs root refused the times
  await chown(target, st.uid, st.gid);
  await chmod(target, st.mode & 0o7777);
  return true;
}
