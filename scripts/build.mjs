// Bundles each CLI into one file so that start-up reads a single script (close to `node -e 0`).
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

const entries = { 'berth-oci': 'src/cli/berth-oci.ts' };
for (const [name, entry] of Object.entries(entries)) {
  const outfile = `dist/${name}.js`;
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    legalComments: 'none',
    logLevel: 'warning',
  });
  chmodSync(outfile, 0o755);
}
