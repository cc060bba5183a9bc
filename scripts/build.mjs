// Bundles each CLI into one CommonJS file and a small launcher that runs it from V8's code cache,
// so that start-up stays close to `node -e 0` (the ESM loader alone costs ~20 ms here).
import { build } from 'esbuild';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const entries = { 'berth-oci': 'src/cli/berth-oci.ts', berth: 'src/cli/berth.ts', berthd: 'src/cli/berthd.ts' };
// what berthd's /version reports (src/engine/version.ts)
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {}
const define = { __BERTH_GIT_COMMIT__: JSON.stringify(commit), __BERTH_BUILD_TIME__: JSON.stringify(new Date().toISOString()) };
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
    define,
  });
  rmSync(`${bundle}.cache`, { force: true });
  rmSync(`${bundle}.warm`, { force: true });
  const launcher = `dist/${name}.js`;
  writeFileSync(launcher, `#!/usr/bin/env node
'use strict';
// Runs ${name}.cjs from V8's code cache. The build's warm-up leaves ${name}.cjs.warm (parsing,
// planning, limits compiled); the first create or run on this install replaces it by
// ${name}.cjs.cache, which also holds what making a container compiles (about 3 ms less per run).
const fs = require('fs'), vm = require('vm'), path = require('path'), Module = require('module');
const file = path.join(__dirname, '${name}.cjs');
let cachedData, full = true;
try { cachedData = fs.readFileSync(file + '.cache'); } catch {
  full = false;
  try { cachedData = fs.readFileSync(file + '.warm'); } catch {}
}
const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData });
const argv = process.argv.slice(2);
const warming = argv.includes('__warm');
if (!cachedData || script.cachedDataRejected || (!full && (warming || argv.includes('run') || argv.includes('create')))) {
  process.on('exit', (code) => {
    if (code !== 0) return;
    try {
      const out = file + (warming ? '.warm' : '.cache');
      const tmp = out + '.' + process.pid;
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, out);
    } catch {}
  });
}
script.runInThisContext().call(module.exports, module.exports, require, module, file, __dirname);
`);
  chmodSync(launcher, 0o755);
  // compile the hot paths once so the cache holds their bytecode
  execFileSync(process.execPath, [launcher, '__warm'], { stdio: 'inherit' });
}
