// berth save / image save: images → a tar from the daemon (docker 25's format: an OCI layout and a docker-archive).
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
    const res = await (await ctx.client()).call('GET', '/images/get', { query: { names: p.rest } });
    await writeBinary(ctx, str(p, 'output'), async (sink) => {
      for await (const chunk of res) {
        if (!sink.write(chunk as Buffer)) await new Promise((r) => sink.once('drain', r));
      }
      if (!res.complete) throw new Error('save: the daemon ended the archive early (see its log)');
    });
    return 0;
  },
};
