// berth save / image save: images → a tar (docker 25's format: an OCI layout and a docker-archive).
import { resolveSaveArgs, saveImages } from '../../image/archive/index.ts';
import { UsageError, str } from '../args.ts';
import type { Command } from './command.ts';
import { refuseTerminal, writeBinary } from './load.ts';

export const saveCommand: Command = {
  name: 'save',
  aliases: ['image save'],
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  summary: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  flags: [{ names: ['output', 'o'], kind: 'string' }],
  flagHelp: '  -o, --output string   Write to a file, instead of STDOUT',
  async run(p, ctx) {
    if (p.rest.length === 0) throw new UsageError('save: want at least one IMAGE');
    refuseTerminal(ctx, str(p, 'output'));
    const stores = await ctx.stores();
    const items = await resolveSaveArgs(stores, p.rest);
    await writeBinary(ctx, str(p, 'output'), (sink) => saveImages(stores, items, sink));
    return 0;
  },
};
