// berth load / image load: images from a tar archive (docker-archive, docker 25, OCI layout; plain, gzip or zstd).
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { ArchiveError } from '../../image/archive/errors.ts';
import { UsageError, bool, str } from '../args.ts';
import type { Command, CommandContext } from './command.ts';

/**
 * Runs `write` into FILE (through a temp file renamed into place once complete, so a failed
 * write leaves no half archive under the name) or into stdout, which docker refuses when it is
 * a terminal.
 */
/** docker's refusal to write a tar to a terminal; checked before any work is done. */
export function refuseTerminal(ctx: CommandContext, file: string | undefined): void {
  if (file === undefined && ctx.stdout.isTTY) throw new ArchiveError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
}

export async function writeBinary(ctx: CommandContext, file: string | undefined, write: (sink: Writable) => Promise<unknown>): Promise<void> {
  refuseTerminal(ctx, file);
  if (file === undefined) {
    const out = process.stdout;
    out.on('error', () => undefined); // EPIPE: the write below fails with it
    await write(out);
    return;
  }
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const out = createWriteStream(tmp, { mode: 0o644 });
  try {
    await new Promise<void>((res, rej) => out.once('open', () => res()).once('error', rej));
    await write(out);
    await new Promise<void>((res, rej) => {
      out.once('error', rej);
      out.end(() => res());
    });
    await rename(tmp, file);
  } catch (e) {
    out.destroy();
    await rm(tmp, { force: true });
    throw e;
  }
}

/** FILE or `-`/nothing for stdin, refused when stdin is a terminal (docker's rule). */
export function readInput(file: string | undefined, what: string): Readable {
  if (file === undefined || file === '-') {
    if (process.stdin.isTTY) throw new ArchiveError(`requested ${what} from stdin, but stdin is a terminal`);
    return process.stdin;
  }
  return createReadStream(file);
}

export const loadCommand: Command = {
  name: 'load',
  aliases: ['image load'],
  usage: '[OPTIONS]',
  summary: 'Load images from a tar archive or STDIN',
  flags: [
    { names: ['input', 'i'], kind: 'string' },
    { names: ['quiet', 'q'], kind: 'bool' },
  ],
  flagHelp: '  -i, --input string   Read from tar archive file, instead of STDIN\n  -q, --quiet          Suppress the load output',
  async run(p, ctx) {
    if (p.rest.length !== 0) throw new UsageError('load: takes no arguments (use -i FILE or STDIN)');
    const quiet = bool(p, 'quiet');
    const input = readInput(str(p, 'input'), 'load');
    const opened = new Promise<void>((res, rej) => {
      if (input === process.stdin) return res();
      input.once('open', () => res()).once('error', (e) => rej(new ArchiveError(`load: ${e.message}`)));
    });
    await opened;
    const client = await ctx.client();
    await client.jsonLines('POST', '/images/load', { query: { quiet }, stream: input }, (m) => {
      if (m.stream !== undefined) ctx.stdout.write(m.stream);
      else if (m.status !== undefined) ctx.stdout.write(`${m.status}\n`);
    });
    return 0;
  },
};
