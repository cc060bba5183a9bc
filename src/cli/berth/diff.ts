// berth diff / container diff: what a container changed in its filesystem (GET /containers/{id}/changes), as docker prints it.
import { wantArgs } from './command.ts';
import type { Command } from './command.ts';

/** docker's archive.ChangeType: 0 modified, 1 added, 2 deleted */
const KINDS = ['C', 'A', 'D'];

export const diffCommand: Command = {
  name: 'container diff',
  aliases: ['diff'],
  usage: 'CONTAINER',
  summary: "Inspect changes to files or directories on a container's filesystem",
  flags: [],
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 1, 1);
    const changes = await (await ctx.client()).get<{ Path: string; Kind: number }[] | null>(`/containers/${encodeURIComponent(p.rest[0]!)}/changes`);
    ctx.stdout.write((changes ?? []).map((c) => `${KINDS[c.Kind] ?? '?'} ${c.Path}\n`).join(''));
    return 0;
  },
};
