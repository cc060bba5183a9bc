// berth inspect / image inspect / container inspect: objects as the Engine API returns them, as a
// JSON array or --format. `inspect` tries a container first, then an image, as docker does.
import { UsageError, str, type Parsed } from '../args.ts';
import { renderFormat } from '../format.ts';
import { DaemonError, type Client } from './client.ts';
import type { Command, CommandContext } from './command.ts';

type Kind = 'container' | 'image';

async function find(client: Client, kind: Kind, name: string, size: boolean): Promise<unknown | undefined> {
  try {
    return kind === 'image'
      ? await client.get(`/images/${encodeURIComponent(name)}/json`)
      : await client.get(`/containers/${encodeURIComponent(name)}/json`, size ? { size: true } : undefined);
  } catch (e) {
    if (e instanceof DaemonError && e.status === 404) return undefined;
    throw e;
  }
}

async function inspect(p: Parsed, ctx: CommandContext, kinds: readonly Kind[], notFound: string): Promise<number> {
  if (p.rest.length === 0) throw new UsageError('inspect: want at least one NAME|ID');
  const client = await ctx.client();
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const ref of p.rest) {
    let doc: unknown;
    for (const k of kinds) {
      doc = await find(client, k, ref, p.flags.get('size') === true);
      if (doc !== undefined) break;
    }
    if (doc === undefined) errors.push(`Error: ${notFound}: ${ref}`);
    else found.push(doc);
  }
  const format = str(p, 'format');
  if (format !== undefined && format !== '' && format !== 'json') ctx.stdout.write(renderFormat(format, found));
  else ctx.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
  for (const m of errors) ctx.stderr.write(`${m}\n`);
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
  run: (p, ctx) => inspect(p, ctx, ['image'], 'No such image'),
};

export const containerInspectCommand: Command = {
  name: 'container inspect',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Display detailed information on one or more containers',
  flags: [...flags, { names: ['size', 's'], kind: 'bool' }],
  flagHelp: `${flagHelp}\n  -s, --size            Display total file sizes`,
  run: (p, ctx) => inspect(p, ctx, ['container'], 'No such container'),
};

/** docker's top-level inspect: a container, else an image (or only the --type given). */
export const inspectCommand: Command = {
  name: 'inspect',
  usage: '[OPTIONS] NAME|ID [NAME|ID...]',
  summary: 'Return low-level information on objects (containers, images)',
  flags: [...flags, { names: ['type'], kind: 'string' }, { names: ['size', 's'], kind: 'bool' }],
  flagHelp: `${flagHelp}\n  -s, --size            Display total file sizes if the type is container\n      --type string     Return JSON for specified type (container or image)`,
  run: (p, ctx) => {
    const type = str(p, 'type');
    if (type !== undefined && type !== 'container' && type !== 'image') throw new UsageError(`"${type}" is not a valid value for --type`);
    return inspect(p, ctx, type === undefined ? ['container', 'image'] : [type], type === undefined ? 'No such object' : `No such ${type}`);
  },
};
