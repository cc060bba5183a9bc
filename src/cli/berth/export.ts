// berth export: a bundle's root filesystem, as its container sees it, as a tar.
import { exportBundle } from '../../image/archive/index.ts';
import { UsageError, str } from '../args.ts';
import type { Command } from './command.ts';
import { refuseTerminal, writeBinary } from './load.ts';

export const exportCommand: Command = {
  name: 'export',
  aliases: ['container export'],
  usage: '[OPTIONS] BUNDLE',
  summary: "Export a bundle's filesystem (as its container sees it) as a tar archive (a berth extra: in-process, on --root's store)",
  flags: [{ names: ['output', 'o'], kind: 'string' }],
  flagHelp: '  -o, --output string   Write to a file, instead of STDOUT',
  async run(p, ctx) {
    if (p.rest.length !== 1) throw new UsageError('export: want exactly one BUNDLE');
    refuseTerminal(ctx, str(p, 'output'));
    await writeBinary(ctx, str(p, 'output'), (sink) => exportBundle(p.rest[0]!, sink));
    return 0;
  },
};
