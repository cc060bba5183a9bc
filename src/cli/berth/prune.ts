// berth image prune: remove dangling images (all unused ones with -a) and what only they used.
import { bool } from '../args.ts';
import { humanSize } from '../units.ts';
import type { PruneReport } from '../../image/index.ts';
import type { Command } from './command.ts';
import { readLine } from './confirm.ts';


export const imagePruneCommand: Command = {
  name: 'image prune',
  usage: '[OPTIONS]',
  summary: 'Remove unused images',
  flags: [{ names: ['all', 'a'], kind: 'bool' }, { names: ['force', 'f'], kind: 'bool' }],
  flagHelp: [
    '  -a, --all     Remove all unused images, not just dangling ones',
    '  -f, --force   Do not prompt for confirmation',
  ].join('\n'),
  async run(p, ctx) {
    const all = bool(p, 'all');
    if (!bool(p, 'force')) {
      ctx.stdout.write(all
        ? 'WARNING! This will remove all images without at least one bundle associated to them.\nAre you sure you want to continue? [y/N] '
        : 'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ');
      const answer = (await readLine()).trim().toLowerCase();
      if (answer !== 'y' && answer !== 'yes') {
        ctx.stderr.write('image prune has been cancelled\n');
        return 1;
      }
    }
    const report = await (await ctx.client()).post<PruneReport>('/images/prune', { filters: JSON.stringify(all ? { dangling: ['false'] } : {}) });
    let out = '';
    if (report.ImagesDeleted) {
      out += 'Deleted Images:\n';
      for (const i of report.ImagesDeleted) out += 'Untagged' in i ? `untagged: ${i.Untagged}\n` : `deleted: ${i.Deleted}\n`;
      out += '\n';
    }
    ctx.stdout.write(`${out}Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
    return 0;
  },
};
