// berth rmi / image rm: untag and remove images (docker's "Untagged:" / "Deleted:" lines).
import { UsageError, bool } from '../args.ts';
import { ImagesError } from '../../image/images/index.ts';
import type { Command } from './command.ts';
import { imageService } from './image-service.ts';

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
    const svc = await imageService(ctx);
    let failed = false;
    // docker goes on after a failure and reports every error
    for (const ref of p.rest) {
      try {
        for (const item of await svc.remove(ref, { force: bool(p, 'force') })) {
          ctx.stdout.write('Untagged' in item ? `Untagged: ${item.Untagged}\n` : `Deleted: ${item.Deleted}\n`);
        }
      } catch (e) {
        if (!(e instanceof ImagesError)) throw e;
        ctx.stderr.write(`berth: ${e.message}\n`);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};
