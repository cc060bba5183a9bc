/**
 * berth: images and bundles.
 *   berth [--root DIR] pull IMAGE
 *   berth [--root DIR] bundle create IMAGE DIR [-- CMD...]
 *   berth [--root DIR] bundle rm DIR
 * A thin shell over src/image: parses arguments, calls the library, prints errors as
 * `berth: what: where: why` and exits 1 on failure (2 on a usage error).
 */
import { createBundle, DEFAULT_BERTH_ROOT, openStores, pull, removeBundle } from '../image/bundle/create.ts';
import { parseArgs, str, bool, UsageError, type FlagDef } from './args.ts';

const GLOBAL: FlagDef[] = [
  { names: ['root'], kind: 'string' },
  { names: ['help', 'h'], kind: 'bool' },
];

const USAGE = `berth — images and bundles

usage:
  berth [--root DIR] pull IMAGE                          pull IMAGE into DIR (default ${DEFAULT_BERTH_ROOT})
  berth [--root DIR] bundle create IMAGE BUNDLE [-- CMD...]
                                                         make an OCI bundle of IMAGE (pulled if absent):
                                                         BUNDLE/rootfs (overlay) and BUNDLE/config.json,
                                                         for berth-oci run --bundle BUNDLE
  berth [--root DIR] bundle rm BUNDLE                    unmount and remove a bundle
`;

const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function main(argv: string[]): Promise<number> {
  const g = parseArgs(argv, GLOBAL);
  const [cmd, ...args] = g.rest;
  if (cmd === '__warm') return 0; // build time: nothing to compile ahead of time beyond loading
  if (cmd === undefined || bool(g, 'help') || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd === undefined && !bool(g, 'help') ? 2 : 0;
  }
  const root = str(g, 'root') ?? DEFAULT_BERTH_ROOT;
  switch (cmd) {
    case 'pull': {
      if (args.length !== 1) throw new UsageError('pull: want exactly one IMAGE');
      const stores = await openStores(root);
      const r = await pull(stores, args[0]!, { onBlob: (kind, digest, size) => log(`${kind} ${digest} ${size} bytes`) });
      process.stdout.write(`${r.manifestDigest}\n`);
      return 0;
    }
    case 'bundle': {
      const [sub, ...rest] = args;
      if (sub === 'create') {
        const dash = rest.indexOf('--');
        const pos = dash >= 0 ? rest.slice(0, dash) : rest;
        const cmdArgs = dash >= 0 ? rest.slice(dash + 1) : undefined;
        if (pos.length !== 2) throw new UsageError('bundle create: want IMAGE BUNDLE [-- CMD...]');
        if (cmdArgs !== undefined && cmdArgs.length === 0) throw new UsageError('bundle create: nothing after --');
        const stores = await openStores(root);
        const rec = await createBundle(stores, pos[0]!, pos[1]!, {
          ...(cmdArgs !== undefined && { args: cmdArgs }),
          log,
          pullOptions: { onBlob: (kind, digest, size) => log(`${kind} ${digest} ${size} bytes`) },
        });
        process.stdout.write(`${rec.owner}\n`);
        return 0;
      }
      if (sub === 'rm') {
        if (rest.length !== 1) throw new UsageError('bundle rm: want exactly one BUNDLE');
        await removeBundle(rest[0]!);
        return 0;
      }
      throw new UsageError(`bundle: unknown subcommand ${JSON.stringify(sub ?? '')} (want create or rm)`);
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`berth: ${e.message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`berth: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
