/**
 * A container's stdio on this terminal, as docker's CLI wires it (cli/command/container/hijack.go):
 * the hijacked connection of attach or exec start carries stdin up and the output down (raw with
 * a TTY, stdcopy-multiplexed otherwise). With a TTY on a terminal: raw mode while attached, the
 * window size sent at once and on every SIGWINCH (the resize endpoint). The detach keys (Ctrl-P
 * Ctrl-Q by default) are sent as typed: the daemon recognises them and ends the stream, as dockerd does.
 */
import type { Socket } from 'node:net';

import { demux, type Client } from './client.ts';

export interface StreamOptions {
  tty: boolean;
  /** send this terminal's stdin */
  stdin: boolean;
  /** the resize endpoint of the container or exec: `/containers/ID/resize` */
  resizePath?: string;
}

/** Streams until the daemon ends the connection; restores the terminal. */
export async function streamStdio(client: Client, socket: Socket, opts: StreamOptions, afterSetup?: () => Promise<void>): Promise<void> {
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
  const onInput = (chunk: Buffer): void => void socket.write(chunk);
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
  } finally {
    process.off('SIGWINCH', onWinch);
    stdin.off('data', onInput);
    stdin.off('end', onInputEnd);
    if (rawMode) stdin.setRawMode(false);
    stdin.pause();
    socket.destroy();
  }
}
