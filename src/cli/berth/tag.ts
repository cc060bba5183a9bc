// berth tag / image tag: another name for an image.
import { UsageError } from '../args.ts';
import type { Command } from './command.ts';
import { imageService } from './image-service.ts';

export const tagCommand: Command = {
  name: 'image tag',
  aliases: ['tag'],
  usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  summary: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  flags: [],
  async run(p, ctx) {
    if (p.rest.length !== 2) throw new UsageError('image tag: want exactly SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]');
    await (await imageService(ctx)).tag(p.rest[0]!, p.rest[1]!);
    return 0;
  },
};
