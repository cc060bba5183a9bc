// berth bundle create / rm: an OCI bundle (overlay rootfs + config.json) from an image, for berth-oci.
import { createBundle, removeBundle } from '../../image/bundle/create.ts';
import { UsageError } from '../args.ts';
import type { Command } from './command.ts';

export const bundleCreateCommand: Command = {
  name: 'bundle create',
  usage: 'IMAGE BUNDLE [-- CMD...]',
  summary: "Make an OCI bundle of IMAGE (pulled if absent): BUNDLE/rootfs (overlay) and BUNDLE/config.json (a berth extra: in-process, on --root's store)",
  flags: [],
  stopAtPositional: true,
  async run(p, ctx) {
    const dash = p.rest.indexOf('--');
    const pos = dash >= 0 ? p.rest.slice(0, dash) : p.rest;
    const cmdArgs = dash >= 0 ? p.rest.slice(dash + 1) : undefined;
    if (pos.length !== 2) throw new UsageError('bundle create: want IMAGE BUNDLE [-- CMD...]');
    if (cmdArgs !== undefined && cmdArgs.length === 0) throw new UsageError('bundle create: nothing after --');
    const stores = await ctx.stores();
    const rec = await createBundle(stores, pos[0]!, pos[1]!, {
      ...(cmdArgs !== undefined && { args: cmdArgs }),
      log: (l) => ctx.log(l),
      pullOptions: { clientOptions: ctx.registry, onBlob: (kind, digest, size) => ctx.log(`${kind} ${digest} ${size} bytes`) },
    });
    ctx.stdout.write(`${rec.owner}\n`);
    return 0;
  },
};

export const bundleRmCommand: Command = {
  name: 'bundle rm',
  usage: 'BUNDLE',
  summary: 'Unmount and remove a bundle (refused while a container still holds its overlay)',
  flags: [],
  async run(p) {
    if (p.rest.length !== 1) throw new UsageError('bundle rm: want exactly one BUNDLE');
    await removeBundle(p.rest[0]!);
    return 0;
  },
};
