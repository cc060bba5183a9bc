// berth pull: fetch an image into the store, unpack its layers and tag it, with docker's output.
import { pull } from '../../image/bundle/create.ts';
import { parseReference } from '../../image/reference.ts';
import { parsePlatform, type Platform } from '../../image/registry/media.ts';
import { UsageError, bool, str } from '../args.ts';
import { PullProgressView } from '../progress.ts';
import type { Command } from './command.ts';

export const pullCommand: Command = {
  name: 'pull',
  aliases: ['image pull'],
  usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
  summary: 'Download an image from a registry',
  flags: [{ names: ['quiet', 'q'], kind: 'bool' }, { names: ['platform'], kind: 'string' }],
  flagHelp: '  --platform string   Set platform if server is multi-platform capable (os/arch[/variant]; default: this machine\'s)\n  -q, --quiet         Suppress verbose output',
  async run(p, ctx) {
    if (p.rest.length !== 1) throw new UsageError('pull: want exactly one NAME[:TAG|@DIGEST]');
    const quiet = bool(p, 'quiet');
    const platformArg = str(p, 'platform');
    let platform: Platform | undefined;
    try {
      if (platformArg !== undefined) platform = parsePlatform(platformArg);
    } catch (e) {
      throw new UsageError(`pull: --platform: ${(e as Error).message}`);
    }
    const ref = parseReference(p.rest[0]!);
    const view = quiet ? undefined : new PullProgressView(ctx.stdout);
    view?.header(ref.digest ?? ref.tag ?? 'latest', ref.path);
    const stores = await ctx.stores();
    const before = await stores.refs.resolve(ref.toString());
    const r = await pull(stores, p.rest[0]!, {
      clientOptions: ctx.registry, // what `berth login` / `docker login` stored; insecure registries
      ...(platform !== undefined && { platform }),
      ...(view && { onProgress: (ev) => view.update(ev) }),
    });
    view?.finish();
    if (quiet) {
      ctx.stdout.write(`${r.name}\n`);
      return 0;
    }
    const fresh = r.downloaded > 0 || r.unpacked > 0 || before !== r.manifestDigest;
    ctx.stdout.write(`Digest: ${r.indexDigest ?? r.manifestDigest}\n`);
    ctx.stdout.write(`Status: ${fresh ? 'Downloaded newer image' : 'Image is up to date'} for ${r.name}\n${r.name}\n`);
    return 0;
  },
};
