// berth rmi / image rm: untag and remove images (docker's "Untagged:" / "Deleted:" lines).
import { UsageError, bool } from '../args.ts';
import type { DeleteItem } from '../../image/images/index.ts';
import { DaemonError } from './client.ts';
import type { Command } from './command.ts';

export const rmiCommand: Command = {
  name: 'image rm',
  aliases: ['rmi', 'image remove'],
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  summary: 'Remove one or more images',
  flags: [{ names: ['force', 'f'], kind: 'bool' }, { names: ['no-prune'], kind: 'bool' }],
  flagHelp: [
    '  -f, --force      Force removal of the image (even when a bundle uses it, or it is tagged in several repositories)',
    '      --no-prune   Accepted for docker compatibility (berth keeps no untagged parents)',
  ].join('\n'),
  async run(p, ctx) {
    if (p.rest.length === 0) throw new UsageError('image rm: want at least one IMAGE');
    const client = await ctx.client();
    let failed = false;
    // docker goes on after a failure and reports every error
    for (const ref of p.rest) {
      try {
        const items = await client.json<DeleteItem[]>('DELETE', `/images/${encodeURIComponent(ref)}`, { query: { force: bool(p, 'force'), noprune: bool(p, 'no-prune') } });
        for (const item of items) {
          ctx.stdout.write('Untagged' in item ? `Untagged: ${item.Untagged}\n` : `Deleted: ${item.Deleted}\n`);
        }
      } catch (e) {
        if (!(e instanceof DaemonError)) throw e;
        // docker's client says a missing image as `Error: No such image: …`, others as the daemon's error
        ctx.stderr.write(e.status === 404 ? `Error: ${e.message}\n` : `Error response from daemon: ${e.message}\n`);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};
