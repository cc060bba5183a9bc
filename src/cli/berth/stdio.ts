/**
 * A container's stdio on this terminal, as docker's CLI wires it (cli/command/container/hijack.go):
 * the hijacked connection of attach or exec start carries stdin up and the output down (raw with
 * a TTY, stdcopy-multiplexed otherwise). With a TTY on a terminal: raw mode while attached, the
 * window size sent at once and on every SIGWINCH (the resize endpoint). The detach keys (Ctrl-P
 * Ctrl-Q by default) are sent as typed: the daemon recognises them and ends the stream, as dockerd does.
 */
import type { Socket } from 'node:net';

import { DetachScanner, parseDetachKeys } from '../../engine/containers/detach-keys.ts';
import { demux, type Client } from './client.ts';

export interface StreamOptions {
  tty: boolean;
  /** send this terminal's stdin */
  stdin: boolean;
  /** the resize endpoint of the container or exec: `/containers/ID/resize` */
  resizePath?: string;
  /** --detach-keys (docker's notation; empty: ctrl-p,ctrl-q) */
  detachKeys?: string;
}

/**
 * Streams until the daemon ends the connection; restores the terminal. `detached`: the user typed
 * the detach keys (into a TTY), so the stream ended with the process still running. Only what was
 * typed tells that apart from a process that closed its output and is about to exit: both end the
 * stream, and the daemon may not have recorded the exit yet (docker's CLI watches its input too).
 */
export async function streamStdio(client: Client, socket: Socket, opts: StreamOptions, afterSetup?: () => Promise<void>): Promise<{ detached: boolean }> {
  const stdin = process.stdin;
  const rawMode = opts.tty && opts.stdin && stdin.isTTY === true;
  if (rawMode) stdin.setRawMode(true);
  const resize = async (): Promise<void> => {
    if (!opts.resizePath || !process.stdout.isTTY) return;
    const { rows, columns } = process.stdout;
    await client.post(opts.resizePath, { h: rows, w: columns }).catch(() => undefined);
  };
  const onWinch = (): void => void resize();
  if (opts.tty && process.stdout.isTTY) process.on('SIGWINCH', onWinch);
  let detached = false;
  let scanner: DetachScanner | undefined;
  if (opts.tty && opts.stdin) {
    try {
      scanner = new DetachScanner(parseDetachKeys(opts.detachKeys ?? ''));
    } catch { /* a bad notation: the daemon refuses it with its message */ }
  }
  const onInput = (chunk: Buffer): void => {
    // sent as typed: the daemon recognises the keys and ends the stream
    if (scanner?.feed(chunk).detach) detached = true;
    void socket.write(chunk);
  };
  const onInputEnd = (): void => {
    // half-close: the container's stdin sees EOF, its output still comes
    if (!socket.destroyed) socket.end();
  };
  try {
    if (opts.stdin) {
      stdin.on('data', onInput);
      stdin.once('end', onInputEnd);
      stdin.resume();
    }
    const done = opts.tty
      ? new Promise<void>((resolve) => {
        socket.on('data', (c: Buffer) => process.stdout.write(c));
        socket.once('end', resolve);
        socket.once('close', resolve);
        socket.once('error', () => resolve());
      })
      : demux(socket, process.stdout, process.stderr);
    if (afterSetup) await afterSetup();
    await resize();
    await done;
    return { detached };
  } finally {
    process.off('SIGWINCH', onWinch);
    stdin.off('data', onInput);
    stdin.off('end', onInputEnd);
    if (rawMode) stdin.setRawMode(false);
    stdin.pause();
    socket.destroy();
  }
}
