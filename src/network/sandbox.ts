/**
 * A container's network "sandbox" (docker's word): a network namespace kept alive by a bind mount
 * on a file, so it outlives any process in it and the runtime joins it by path.
 */
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import { dirname, isAbsolute } from 'node:path';

import { NetworkError } from './errors.ts';
import { zygoteOp, type CommandResult } from '../native/command.ts';
import { IP, UMOUNT, UNSHARE, run, runOk, words } from './tools.ts';

function checkPath(path: string): void {
  if (!isAbsolute(path)) throw new NetworkError('invalid', `sandbox path ${JSON.stringify(path)} is not absolute`);
}

/**
 * A new network namespace bound at `path` (its directory made 0700 if absent), loopback up.
 * One exec: util-linux unshare makes the binding and runs `ip` inside. On failure nothing is left.
 */
export async function createSandbox(path: string): Promise<void> {
  checkPath(path);
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new NetworkError('system', `creating the directory of sandbox ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    await (await open(path, 'wx', 0o444)).close();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new NetworkError('conflict', `sandbox ${path} already exists`);
    throw new NetworkError('system', `creating sandbox ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    // berthd's zygote makes it with three syscalls; without one, util-linux unshare and ip
    const done = await zygoteOp('netns', path).catch((e: Error) => { throw new NetworkError('system', `creating network namespace ${path}: ${e.message}`, { cause: e }); });
    if (!done) await runOk(`creating network namespace ${path}`, [UNSHARE, `--net=${path}`, IP, 'link', 'set', 'lo', 'up']);
  } catch (e) {
    await removeSandbox(path).catch(() => undefined);
    throw e;
  }
}

/** Unbinds the namespace (lazily: a process still in it keeps it) and removes the file. Idempotent. */
export async function removeSandbox(path: string): Promise<void> {
  checkPath(path);
  // umount's failure is judged by the unlink: a file that is not (or no longer) a mount point
  // unlinks; one still mounted fails with EBUSY and umount's words say why
  let r: CommandResult = { code: 0, signal: null, output: '' };
  const done = await zygoteOp('umount', path).catch((e: Error) => { r = { code: 1, signal: null, output: e.message }; return true; });
  if (!done) r = await run(`unmounting sandbox ${path}`, [UMOUNT, '-l', path]);
  try {
    await unlink(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    const why = code === 'EBUSY' && r.code !== 0 ? words(r) : (e as Error).message;
    throw new NetworkError('system', `removing sandbox ${path}: ${why}`, { cause: e });
  }
}

/** The names of the sandbox files in `dir` (none if it does not exist), for orphan cleanup. */
export async function listSandboxes(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new NetworkError('system', `listing sandboxes in ${dir}: ${(e as Error).message}`, { cause: e });
  }
}
