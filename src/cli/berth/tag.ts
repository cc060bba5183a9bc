// berth tag / image tag: another name for an image.
import { UsageError } from '../args.ts';
import { parseReference } from '../../image/reference.ts';
import type { Command } from './command.ts';

export const tagCommand: Command = {
  name: 'image tag',
  aliases: ['tag'],
  usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  summary: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  flags: [],
  async run(p, ctx) {
    if (p.rest.length !== 2) throw new UsageError('image tag: want exactly SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]');
    const target = parseReference(p.rest[1]!);
    if (target.digest !== undefined) throw new Error('refusing to create a tag with a digest reference');
    const client = await ctx.client();
    await client.post(`/images/${encodeURIComponent(p.rest[0]!)}/tag`, { repo: target.repository(), tag: target.tag ?? 'latest' });
    return 0;
  },
};
