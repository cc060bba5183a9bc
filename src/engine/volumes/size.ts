/**
 * A volume's usage for `system df`, as docker's pkg/directory.Size counts it: the apparent size
 * of everything but directories, each inode once (hard links), symlinks not followed, and not
 * descending into other filesystems mounted below.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export async function directorySize(root: string): Promise<number> {
  const seen = new Set<bigint>();
  let size = 0;
  const rootDev = (await lstat(root, { bigint: true })).dev;
  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const n of names) {
      const p = join(dir, n);
      let st;
      try {
        st = await lstat(p, { bigint: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      if (st.isDirectory()) {
        if (st.dev === rootDev) await walk(p);
        continue;
      }
      if (st.size === 0n || seen.has(st.ino)) continue;
      seen.add(st.ino);
      size += Number(st.size);
    }
  };
  await walk(root);
  return size;
}
