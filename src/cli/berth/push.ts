// berth push: upload a local image (or every tag of a repository) to its registry, with docker's lines.
import { parseReference, ImageReference } from '../../image/reference.ts';
import { ImageNotLocalError, pushImage, type PushProgress } from '../../image/registry/push.ts';
import { digestHex } from '../../image/store/digest.ts';
import { UsageError, bool } from '../args.ts';
import type { Command, CommandContext } from './command.ts';

/** docker's line for a layer that is done: `<12 hex>: Pushed` (configs and manifests get none). */
function layerLine(p: PushProgress): string | undefined {
  if (p.kind !== 'layer') return undefined;
  const id = digestHex(p.digest).slice(0, 12);
  if (p.status === 'exists') return `${id}: Layer already exists`;
  if (p.status === 'mounted') return `${id}: Mounted from ${p.from}`;
  if (p.status === 'pushed') return `${id}: Pushed`;
  return undefined;
}

/** The tags of `repo` in the image index, sorted (docker's `push --all-tags`). */
async function tagsOf(ctx: CommandContext, repo: ImageReference): Promise<ImageReference[]> {
  const { refs } = await ctx.stores();
  const out: ImageReference[] = [];
  for (const { name } of await refs.list()) {
    let r: ImageReference;
    try {
      r = parseReference(name);
    } catch {
      continue;
    }
    if (r.repository() === repo.repository() && r.tag !== undefined && r.digest === undefined) out.push(r);
  }
  return out;
}

export const pushCommand: Command = {
  name: 'push',
  aliases: ['image push'],
  usage: '[OPTIONS] NAME[:TAG]',
  summary: 'Upload an image to a registry',
  flags: [
    { names: ['quiet', 'q'], kind: 'bool' },
    { names: ['all-tags', 'a'], kind: 'bool' },
  ],
  flagHelp: '  -a, --all-tags   Push all tags of an image to the repository\n  -q, --quiet      Suppress verbose output',
  async run(p, ctx) {
    if (p.rest.length !== 1) throw new UsageError('push: want exactly one NAME[:TAG]');
    const quiet = bool(p, 'quiet');
    const all = bool(p, 'all-tags');
    const ref = parseReference(p.rest[0]!);
    if (all && (!ref.tagDefaulted || ref.digest !== undefined)) throw new UsageError('tag can\'t be used with --all-tags/-a');
    const out = (line: string): void => void (!quiet && ctx.stdout.write(`${line}\n`));
    if (!all && ref.tagDefaulted) out(`Using default tag: ${ref.tag}`);
    // docker says which repository before it looks for the image
    out(`The push refers to repository [${ref.repository()}]`);
    const targets = all ? await tagsOf(ctx, ref) : [ref];
    if (targets.length === 0) throw new ImageNotLocalError(ref);
    const { content, refs } = await ctx.stores();
    for (const target of targets) {
      const r = await pushImage(target, content, refs, {
        clientOptions: ctx.registry, // what `berth login` / `docker login` stored; insecure registries
        onProgress: (e) => {
          const line = layerLine(e);
          if (line !== undefined) out(line);
        },
      });
      out(`${r.reference}: digest: ${r.digest} size: ${r.size}`);
      if (quiet) ctx.stdout.write(`${target.toString()}\n`);
    }
    return 0;
  },
};
