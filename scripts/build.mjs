// Bundles each CLI into one CommonJS file and a small launcher that runs it from V8's code cache,
// so that start-up stays close to `node -e 0` (the ESM loader alone costs ~20 ms here).
import { build } from 'esbuild';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const entries = { 'berth-oci': 'src/cli/berth-oci.ts' };
mkdirSync('dist', { recursive: true });
// the files in dist/ are CommonJS, whatever the package's "type"
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');
for (const [name, entry] of Object.entries(entries)) {
  const bundle = `dist/${name}.cjs`;
  await build({
    entryPoints: [entry],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    legalComments: 'none',
    // smaller to read and to deserialize from the code cache; names kept for readable stack traces
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'error',
  });
  rmSync(`${bundle}.cache`, { force: true });
  const launcher = `dist/${name}.js`;
  writeFileSync(launcher, `#!/usr/bin/env node
'use strict';
// Runs ${name}.cjs from V8's code cache (${name}.cjs.cache, made by the build's warm-up run).
const fs = require('fs'), vm = require('vm'), path = require('path'), Module = require('module');
const file = path.join(__dirname, '${name}.cjs');
let cachedData;
try { cachedData = fs.readFileSync(file + '.cache'); } catch {}
const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData });
if (!cachedData || script.cachedDataRejected) {
  process.on('exit', () => {
    try {
      const tmp = file + '.cache.' + process.pid;
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, file + '.cache');
    } catch {}
  });
}
script.runInThisContext().call(module.exports, module.exports, require, module, file, __dirname);
`);
  chmodSync(launcher, 0o755);
  // compile the hot paths once so the cache holds their bytecode
  execFileSync(process.execPath, [launcher, '__warm'], { stdio: 'inherit' });
}
