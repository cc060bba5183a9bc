// berth commit / container commit: a new image from a container's changes (POST /commit); its ID printed.
import { parseReference } from '../../image/index.ts';
import { bool, list, str } from '../args.ts';
import { PlainFailure, wantArgs } from './command.ts';
import type { Command } from './command.ts';

export const commitCommand: Command = {
  name: 'container commit',
  aliases: ['commit'],
  usage: '[OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
  summary: "Create a new image from a container's changes",
  flags: [
    { names: ['author', 'a'], kind: 'string' }, { names: ['change', 'c'], kind: 'list' },
    { names: ['message', 'm'], kind: 'string' }, { names: ['pause', 'p'], kind: 'bool' },
  ],
  flagHelp: [
    '  -a, --author string    Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")',
    '  -c, --change list      Apply Dockerfile instruction to the created image',
    '  -m, --message string   Commit message',
    '  -p, --pause            Pause container during commit (default true)',
  ].join('\n'),
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 1, 2);
    let repo: string | undefined;
    let tag: string | undefined;
    if (p.rest[1] !== undefined && p.rest[1] !== '') {
      let ref;
      try {
        ref = parseReference(p.rest[1]);
      } catch (e) {
        throw new PlainFailure((e as Error).message);
      }
      // docker's client: a digest names content, never what a commit makes
      if (ref.digest !== undefined) throw new PlainFailure('refusing to create a tag with a digest reference');
      repo = ref.familiarName();
      tag = ref.tag ?? 'latest';
    }
    const r = await (await ctx.client()).post<{ Id: string }>('/commit', {
      container: p.rest[0]!, repo, tag, comment: str(p, 'message'), author: str(p, 'author'),
      pause: p.flags.has('pause') ? bool(p, 'pause') : true, changes: list(p, 'change'),
    });
    ctx.stdout.write(`${r.Id}\n`);
    return 0;
  },
};
