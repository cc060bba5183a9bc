// berth pull: fetch an image into the store, unpack its layers and tag it, with docker's output.
import { constants as osConstants } from 'node:os';

import { pull } from '../../image/bundle/create.ts';
import { parseReference } from '../../image/reference.ts';
import { parsePlatform, type Platform } from '../../image/registry/media.ts';
import { UsageError, bool, str } from '../args.ts';
import { PullProgressView } from '../progress.ts';
import type { Command } from './command.ts';

/** The pull was stopped by SIGINT / SIGTERM. */
export class PullInterruptedError extends Error {}

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
    // SIGINT / SIGTERM stop the pull: what it was writing is removed before the exit (128 + the
    // signal's number, as docker's CLI and shells report it); a second one exits at once.
    const stop = new AbortController();
    let caught: NodeJS.Signals | undefined;
    const interrupted = (sig: NodeJS.Signals): string => `pull ${ref.toString()}: interrupted by ${sig}`;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (caught !== undefined) process.exit(128 + osConstants.signals[sig]);
      caught = sig;
      stop.abort(new PullInterruptedError(interrupted(sig)));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let r: Awaited<ReturnType<typeof pull>>;
    try {
      r = await pull(stores, p.rest[0]!, {
        clientOptions: ctx.registry, // what `berth login` / `docker login` stored; insecure registries
        signal: stop.signal,
        ...(platform !== undefined && { platform }),
        ...(view && { onProgress: (ev) => view.update(ev) }),
      });
    } catch (e) {
      if (caught === undefined) throw e;
      view?.finish();
      ctx.stderr.write(`berth: ${interrupted(caught)}\n`);
      return 128 + osConstants.signals[caught];
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    view?.finish();
    if (caught !== undefined) {
      // the pull completed as the signal came: the image is whole and tagged; the exit says why it ended
      ctx.stderr.write(`berth: ${interrupted(caught)} (the pull had completed)\n`);
      return 128 + osConstants.signals[caught];
    }
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
