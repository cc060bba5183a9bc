/**
 * A second snapshot of an already unpacked layer (the same DiffID at another chain position: a
 * manifest listing one layer twice, or one layer under different bases) without writing its
 * bytes again: the directories are recreated (mode, owner, mtime and xattrs such as overlay's
 * opaque marker) and every other entry (files, symlinks, whiteout devices) hard-linked. The
 * lower directories stay distinct, which overlayfs needs: it refuses one lowerdir listed twice
 * ("conflicting lowerdir path"). Lower directories are never written, so sharing inodes is safe,
 * and removing one snapshot leaves the other's links whole.
 *
 * GNU cp does exactly this (`-a --link`): Node has no xattr calls.
 */
import { execFile } from 'node:child_process';

const CP = '/bin/cp';

/** Hard-link copy of the tree `src` to `dest` (which must not exist). */
export function linkTree(src: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(CP, ['-a', '--link', '--no-target-directory', '--', src, dest], { maxBuffer: 1 << 20 }, (err, _out, stderr) => {
      if (err) reject(new Error(`${CP} -a --link ${src} ${dest}: ${String(stderr).trim().split('\n')[0] || err.message}`, { cause: err }));
      else resolve();
    });
  });
}
