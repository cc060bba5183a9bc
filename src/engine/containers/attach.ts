/**
 * `POST /containers/{id}/attach` (hijacked): the monitor's attach socket relayed onto the
 * client's connection — output as docker frames it (stdcopy for non-TTY, raw for a TTY), the
 * client's bytes to the container's stdin, the client's half-close to the monitor (which closes
 * stdin with StdinOnce). A container that is only created is attached when it starts, before its
 * init execs, so nothing of its output is missed.
 */
import type { Duplex } from 'node:stream';

import { AttachClient } from '../../native/monitor.ts';
import { ConflictError } from '../errors.ts';
import type { ContainerContext } from './context.ts';
import { DetachScanner, parseDetachKeys } from './detach-keys.ts';
import type { Loaded } from './store.ts';
import { isRunningStatus } from './types.ts';

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** frames a chunk of `stream` for the client (stdcopy, or as-is for a TTY) */
  frame: (stream: 1 | 2, data: Buffer) => Buffer;
  /** docker's notation (`ctrl-p,ctrl-q`, the default when empty); a TTY's only, as dockerd */
  detachKeys?: string;
}

/** Whether attaching is possible now or at start; docker's 409 for a stopped container. */
export function checkAttachable(l: Loaded): void {
  const s = l.rec.state.Status;
  if (s === 'created' || isRunningStatus(s)) return;
  throw new ConflictError('You cannot attach to a stopped container, start it first');
}

/** Relays until the container's output ends or the client goes; the client socket is ours to end. */
export async function attachContainer(ctx: ContainerContext, l: Loaded, client: Duplex, o: AttachOptions): Promise<void> {
  const { rec } = l;
  const tty = !!rec.config.Tty;
  // the client's stdin waits in its socket until the monitor is there to take it
  client.pause();
  const connect = async (): Promise<void> => {
    const a = await AttachClient.connect(ctx.monitorOptions(rec.id, tty, false, false, {}).attachSocket, { tty });
    if (o.stdout) a.stdout.on('data', (d: Buffer) => client.writable && client.write(o.frame(1, d)));
    else a.stdout.resume();
    if (o.stderr) a.stderr.on('data', (d: Buffer) => client.writable && client.write(o.frame(2, d)));
    else a.stderr.resume();
    if (o.stdin) {
      const scanner = tty ? new DetachScanner(parseDetachKeys(o.detachKeys ?? '')) : undefined;
      let detached = false;
      client.on('data', (d: Buffer) => {
        if (detached) return;
        if (!scanner) return a.write(d);
        const { pass, detach } = scanner.feed(d);
        if (pass.length > 0) a.write(pass);
        if (detach) {
          // the client goes, the container stays (a terminal's stdin is never closed by a client's end)
          detached = true;
          a.close();
          client.end();
        }
      });
      client.on('end', () => {
        if (!detached) a.end();
      });
      client.resume();
    }
    client.once('close', () => a.close());
    void a.closed.then(() => {
      // the output is flushed before the end: the PassThroughs deliver synchronously on write
      setImmediate(() => client.end());
    });
  };
  if (isRunningStatus(rec.state.Status)) {
    await connect();
    return;
  }
  let list = ctx.pendingAttach.get(rec.id);
  if (!list) ctx.pendingAttach.set(rec.id, (list = []));
  list.push(connect);
  client.once('close', () => {
    const cur = ctx.pendingAttach.get(rec.id);
    const i = cur?.indexOf(connect) ?? -1;
    if (cur && i >= 0) cur.splice(i, 1);
  });
}
