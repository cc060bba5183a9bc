// berth import / image import: a root filesystem tarball → a one-layer image, its ID printed.
import { ArchiveError } from '../../image/archive/errors.ts';
import { parsePlatform } from '../../image/registry/media.ts';
import { parseReference } from '../../image/reference.ts';
import { UsageError, list, str } from '../args.ts';
import type { Command } from './command.ts';
import { readInput } from './load.ts';

export const importCommand: Command = {
  name: 'import',
  aliases: ['image import'],
  usage: '[OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  summary: 'Import the contents from a tarball to create a filesystem image',
  flags: [
    { names: ['change', 'c'], kind: 'list' },
    { names: ['message', 'm'], kind: 'string' },
    { names: ['platform'], kind: 'string' },
  ],
  flagHelp: [
    '  -c, --change list     Apply Dockerfile instruction to the created image',
    '  -m, --message string  Set commit message for imported image',
    '      --platform string Set platform (os/arch[/variant]) of the image',
  ].join('\n'),
  async run(p, ctx) {
    if (p.rest.length < 1 || p.rest.length > 2) throw new UsageError('import: want file|URL|- [REPOSITORY[:TAG]]');
    const src = p.rest[0]!;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(src)) throw new ArchiveError(`import: ${src}: importing from a URL is not supported (download it, then import the file or -)`);
    const platform = str(p, 'platform');
    const message = str(p, 'message');
    const input = readInput(src, 'import');
    if (src !== '-') {
      await new Promise<void>((res, rej) => input.once('open', () => res()).once('error', (e) => rej(new ArchiveError(`import: ${e.message}`))));
    }
    if (platform !== undefined) parsePlatform(platform);
    let repo: string | undefined;
    let tag: string | undefined;
    if (p.rest[1] !== undefined) {
      const ref = parseReference(p.rest[1]);
      repo = ref.repository();
      tag = ref.digest ?? ref.tag;
    }
    const client = await ctx.client();
    await client.jsonLines('POST', '/images/create', {
      query: { fromSrc: '-', repo, tag, message, platform, changes: list(p, 'change') },
      stream: input,
    }, (m) => {
      if (m.status !== undefined) ctx.stdout.write(`${m.status}\n`);
    });
    return 0;
  },
};
