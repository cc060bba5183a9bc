// berth inspect / image inspect: images as the Engine API returns them, as a JSON array or --format.
import { UsageError, str } from '../args.ts';
import { renderFormat } from '../format.ts';
import { NoSuchImageError, ImagesError, type ImageInspect } from '../../image/images/index.ts';
import type { Command, CommandContext } from './command.ts';
import { imageService } from './image-service.ts';
import type { Parsed } from '../args.ts';

async function inspect(p: Parsed, ctx: CommandContext, notFound: string): Promise<number> {
  if (p.rest.length === 0) throw new UsageError('inspect: want at least one IMAGE');
  const svc = await imageService(ctx);
  const found: ImageInspect[] = [];
  const errors: string[] = [];
  for (const ref of p.rest) {
    try {
      found.push(await svc.inspect(ref));
    } catch (e) {
      if (e instanceof NoSuchImageError) errors.push(`${notFound}: ${ref}`);
      else if (e instanceof ImagesError) errors.push(e.message);
      else throw e;
    }
  }
  const format = str(p, 'format');
  if (format !== undefined && format !== '' && format !== 'json') ctx.stdout.write(renderFormat(format, found));
  else ctx.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
  for (const m of errors) ctx.stderr.write(`berth: ${m}\n`);
  return errors.length > 0 ? 1 : 0;
}

const flags = [{ names: ['format', 'f'], kind: 'string' as const }];
const flagHelp = '  -f, --format string   Format output using a custom template (json, or a Go template)';

export const imageInspectCommand: Command = {
  name: 'image inspect',
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  summary: 'Display detailed information on one or more images',
  flags,
  flagHelp,
  run: (p, ctx) => inspect(p, ctx, 'No such image'),
};

/** docker's top-level inspect; berth has only images to inspect so far. */
export const inspectCommand: Command = {
  name: 'inspect',
  usage: '[OPTIONS] NAME|ID [NAME|ID...]',
  summary: 'Return low-level information on objects (images)',
  flags,
  flagHelp,
  run: (p, ctx) => inspect(p, ctx, 'No such object'),
};
