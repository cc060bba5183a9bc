// What the image commands share: the service over the root's stores, with broken images reported
// on stderr instead of failing the whole command.
import { ImageService } from '../../image/images/index.ts';
import type { CommandContext } from './command.ts';

export async function imageService(ctx: CommandContext): Promise<ImageService> {
  return new ImageService(await ctx.stores(), (e) => ctx.log(`berth: warning: ${e.message}`));
}
