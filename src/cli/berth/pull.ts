// berth pull: the daemon fetches an image into its store, unpacks its layers and tags it; docker's output.
import { constants as osConstants } from 'node:os';

import { parseReference } from '../../image/reference.ts';
import { parsePlatform } from '../../image/registry/media.ts';
import { UsageError, bool, str } from '../args.ts';
import { JsonMessageView } from '../progress.ts';
import type { Command, CommandContext } from './command.ts';
import { registryAuthHeader } from './registry-auth.ts';

/** Pulls `name` through the daemon, showing docker's progress unless quiet; the full name pulled. */
export async function pullImage(ctx: CommandContext, name: string, opts: { quiet?: boolean; platform?: string; out?: CommandContext['stdout'] } = {}): Promise<string> {
  const ref = parseReference(name);
  const client = await ctx.client();
  const view = opts.quiet ? undefined : new JsonMessageView(opts.out ?? ctx.stdout);
  await client.jsonLines('POST', '/images/create', {
    query: { fromImage: ref.repository(), tag: ref.digest ?? ref.tag ?? 'latest', ...(opts.platform !== undefined && { platform: opts.platform }) },
    headers: { 'X-Registry-Auth': await registryAuthHeader(name) },
  }, (m) => view?.show(m));
  return ref.toString();
}

export const pullCommand: Command = {
  name: 'pull',
  aliases: ['image pull'],
  usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
  summary: 'Download an image from a registry',
  flags: [{ names: ['quiet', 'q'], kind: 'bool' }, { names: ['platform'], kind: 'string' }],
  flagHelp: '  --platform string   Set platform if server is multi-platform capable (os/arch[/variant]; default: the daemon\'s)\n  -q, --quiet         Suppress verbose output',
  async run(p, ctx) {
    if (p.rest.length !== 1) throw new UsageError('pull: want exactly one NAME[:TAG|@DIGEST]');
    const quiet = bool(p, 'quiet');
    const platform = str(p, 'platform');
    try {
      if (platform !== undefined) parsePlatform(platform);
    } catch (e) {
      throw new UsageError(`pull: --platform: ${(e as Error).message}`);
    }
    const name = parseReference(p.rest[0]!).toString();
    // SIGINT / SIGTERM end the client at once (128 + the signal's number, as docker's CLI and
    // shells report it); the daemon finishes or drops its pull on its own.
    const onSignal = (sig: NodeJS.Signals): void => {
      process.stderr.write(`berth: pull ${name}: interrupted by ${sig}\n`);
      process.exit(128 + osConstants.signals[sig]);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const full = await pullImage(ctx, p.rest[0]!, { quiet, ...(platform !== undefined && { platform }) });
      ctx.stdout.write(`${full}\n`);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return 0;
  },
};
