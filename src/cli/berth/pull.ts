// berth pull: fetch an image into the store and tag it.
import { credentialsFor } from '../../image/auth/index.ts';
import { pull } from '../../image/bundle/create.ts';
import { UsageError, bool } from '../args.ts';
import type { Command } from './command.ts';

export const pullCommand: Command = {
  name: 'pull',
  aliases: ['image pull'],
  usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
  summary: 'Download an image from a registry',
  flags: [{ names: ['quiet', 'q'], kind: 'bool' }],
  flagHelp: '  -q, --quiet    Suppress verbose output',
  async run(p, ctx) {
    if (p.rest.length !== 1) throw new UsageError('pull: want exactly one NAME[:TAG|@DIGEST]');
    const quiet = bool(p, 'quiet');
    const stores = await ctx.stores();
    const r = await pull(stores, p.rest[0]!, {
      clientOptions: { credentialsFor }, // what `berth login` / `docker login` stored
      onBlob: (kind, digest, size) => { if (!quiet) ctx.log(`${kind} ${digest} ${size} bytes`); },
    });
    if (quiet) ctx.stdout.write(`${r.name}\n`);
    else ctx.stdout.write(`Digest: ${r.indexDigest ?? r.manifestDigest}\n${r.name}\n`);
    return 0;
  },
};
