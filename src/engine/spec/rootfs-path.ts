/**
 * Paths inside a container's root filesystem, resolved as if the rootfs were `/`: a symlink in
 * the image (absolute or with `..`) never leads out of it (docker's GetResourcePath, the
 * filepath-securejoin rule). The image is not trusted.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

const MAX_LINKS = 255;

/** The host path of `inside` (absolute, in the container) under `rootfs`, symlinks scoped. */
export async function resolveInRootfs(rootfs: string, inside: string): Promise<string> {
  const pending = inside.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = path.join(rootfs, ...done, part);
    let target: string | undefined;
    try {
      const st = await fs.lstat(host);
      if (st.isSymbolicLink()) target = await fs.readlink(host);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (target === undefined) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) throw Object.assign(new Error(`too many symlinks resolving ${inside} in the container`), { code: 'ELOOP' });
    if (target.startsWith('/')) done.length = 0;
    pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
  }
  return path.join(rootfs, ...done);
}

/**
 * Creates the working directory in the rootfs if it is missing (0755, owned by root), as
 * docker does; fails if something that is not a directory is in the way.
 */
export async function ensureDirInRootfs(rootfs: string, inside: string): Promise<void> {
  const host = await resolveInRootfs(rootfs, inside);
  try {
    await fs.mkdir(host, { recursive: true, mode: 0o755 });
  } catch (e) {
    const st = await fs.stat(host).catch(() => undefined);
    if (st && !st.isDirectory()) throw Object.assign(new Error(`Cannot mkdir: ${inside} is not a directory`), { code: 'ENOTDIR' });
    throw e;
  }
  const st = await fs.stat(host);
  if (!st.isDirectory()) throw Object.assign(new Error(`Cannot mkdir: ${inside} is not a directory`), { code: 'ENOTDIR' });
}
