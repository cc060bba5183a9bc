/**
 * `start`'s wait on the exec fifo, driven by epoll instead of polling: the init, blocked in
 * open(exec.fifo, O_WRONLY) since `create`, writes one byte once we open the read side (the
 * release) and the fifo reaches EOF when its execve closes the write side (O_CLOEXEC). A poll
 * with back-off saw that EOF up to a back-off step late (6 ms of a 15 ms start, measured).
 */
import { closeSync, openSync, readSync, constants as fsc } from 'node:fs';
import { Socket } from 'node:net';

import { errnoCode } from './errors.ts';

/** How often the init's liveness is checked while nothing happens on the fifo. */
const ALIVE_CHECK_MS = 50;

/**
 * Opens the fifo's read side (which releases the init) and resolves at its EOF: `released` says
 * whether the init wrote its byte first. `alive` is asked while the fifo is quiet: an init that
 * died before opening its end never makes the fifo readable.
 */
export async function awaitRelease(fifo: string, alive: () => boolean): Promise<{ released: boolean }> {
  // non-blocking open so a dead init cannot hang us; its blocked open(O_WRONLY) completes now
  const fd = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
  let released = false;
  // what is there already (an init that released, exec'd and exited before we looked): the byte
  // is still in the pipe; EOF here means only "no writer yet" and proves nothing
  const buf = Buffer.alloc(16);
  try {
    if (readSync(fd, buf, 0, buf.length, null) > 0) released = true;
  } catch (e) {
    if (errnoCode(e) !== 'EAGAIN') {
      closeSync(fd);
      throw e;
    }
  }
  const sock = new Socket({ fd, readable: true, writable: false });
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearInterval(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve({ released });
    };
    const timer = setInterval(() => {
      if (alive()) return;
      // timers run before I/O callbacks: the byte of an init that released, exec'd and exited
      // may be in the pipe still, unread
      try {
        while (readSync(fd, buf, 0, buf.length, null) > 0) released = true;
      } catch { /* EAGAIN: nothing there */ }
      finish();
    }, ALIVE_CHECK_MS);
    sock.on('data', () => (released = true));
    sock.on('end', () => finish());
    sock.on('error', (e) => finish(e));
  });
}
