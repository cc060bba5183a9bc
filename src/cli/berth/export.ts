// berth export: a container's filesystem as a tar (GET /containers/{id}/export, as docker's), or,
// as a berth extra, a bundle's root filesystem as its container sees it (in-process, on --root's store).
import { statSync } from 'node:fs';
import { exportBundle } from '../../image/index.ts';
import { str } from '../args.ts';
import { wantArgs } from './command.ts';
import type { Command } from './command.ts';
import { refuseTerminal, writeBinary } from './load.ts';

/**
 * A bundle is a path: an argument with a `/` or naming a directory here (its own checks then
 * say when it is no bundle). A container's name or ID never holds a `/`, so only a directory
 * in the current directory named like a container hides it (`berth export ID` still reaches it).
 */
function isBundle(arg: string): boolean {
  if (arg.includes('/')) return true;
  try {
    return statSync(arg).isDirectory();
  } catch {
    return false;
  }
}

export const exportCommand: Command = {
  name: 'container export',
  aliases: ['export'],
  usage: '[OPTIONS] CONTAINER|BUNDLE',
  summary: "Export a container's filesystem as a tar archive (or a bundle's: a berth extra, in-process, on --root's store)",
  flags: [{ names: ['output', 'o'], kind: 'string' }],
  flagHelp: '  -o, --output string   Write to a file, instead of STDOUT',
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 1, 1);
    const arg = p.rest[0]!;
    const out = str(p, 'output');
    refuseTerminal(ctx, out);
    if (isBundle(arg)) {
      await writeBinary(ctx, out, (sink) => exportBundle(arg, sink));
      return 0;
    }
    const res = await (await ctx.client()).call('GET', `/containers/${encodeURIComponent(arg)}/export`);
    await writeBinary(ctx, out, async (sink) => {
      for await (const chunk of res) {
        if (!sink.write(chunk as Buffer)) await new Promise((r) => sink.once('drain', r));
      }
      if (!res.complete) throw new Error('export: the daemon ended the archive early (see its log)');
    });
    return 0;
  },
};
