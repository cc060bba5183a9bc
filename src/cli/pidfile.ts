/**
 * One daemon per exec root, data root and socket. A pid file is written whole under a name of
 * our own and then hard-linked into place (link fails if the name exists), so of two daemons
 * starting at once one wins and the other never sees it empty — an empty file taken for a stale
 * one let the loser delete the winner's file and take it (two berth pulls autostarting berthd on
 * one root at once). A file left by a dead process (a crash, kill -9) is taken over. The socket is checked by connecting: a live listener means another daemon serves it.
 */
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';

export class AlreadyRunningError extends Error {}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes our pid to `path`, refusing when a live process holds it; returns the release. */
export async function acquirePidFile(path: string, what: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, `${process.pid}\n`, { mode: 0o644 });
      await link(tmp, path);
      return async () => {
        // only our own file: a successor may have taken it over
        const now = await readFile(path, 'utf8').catch(() => '');
        if (now.trim() === String(process.pid)) await rm(path, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      await rm(tmp, { force: true });
    }
    const text = (await readFile(path, 'utf8').catch(() => '')).trim();
    const pid = Number(text);
    if (/^\d+$/.test(text) && pid !== process.pid && alive(pid)) {
      throw new AlreadyRunningError(`${what} is in use by a running berthd (pid ${pid}, ${path})`);
    }
    await rm(path, { force: true }); // stale: its process is gone
  }
  throw new AlreadyRunningError(`${path}: could not take the pid file (another berthd starting at the same time?)`);
}

/** True when something accepts connections on the unix socket `path`. */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
