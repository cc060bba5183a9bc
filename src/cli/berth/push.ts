// berth push: the daemon uploads a local image (or every tag of a repository) to its registry; docker's lines.
import { parseReference } from '../../image/reference.ts';
import { UsageError, bool } from '../args.ts';
import type { Command } from './command.ts';
import { registryAuthHeader } from './registry-auth.ts';

/** The layer states berth prints: where each layer ended up (not the Preparing/Waiting/Pushing steps). */
const FINAL = /^(Pushed|Layer already exists|Mounted from .*)$/;

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
    const client = await ctx.client();
    const path = `/images/${encodeURIComponent(ref.digest !== undefined ? ref.toString() : ref.repository())}/push`;
    await client.jsonLines('POST', path, {
      query: { tag: all || ref.digest !== undefined ? '' : ref.tag ?? 'latest' },
      headers: { 'X-Registry-Auth': await registryAuthHeader(ref.toString()) },
    }, (m) => {
      if (m.aux !== undefined) {
        const tag = (m.aux as { Tag?: string }).Tag;
        if (quiet && tag !== undefined) ctx.stdout.write(`${ref.digest !== undefined ? ref.toString() : `${ref.repository()}:${tag}`}\n`);
        return;
      }
      if (m.id !== undefined && m.progressDetail !== undefined) {
        if (FINAL.test(m.status ?? '')) out(`${m.id}: ${m.status}`);
        return;
      }
      if (m.status !== undefined) out(m.status);
    });
    return 0;
  },
};
