/**
 * Where the native binaries are: native/build/<name> of this checkout (from source, src/native/,
 * or bundled, dist/), unless the environment names one (BERTH_INIT, BERTH_MONITOR).
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type NativeBinary = 'berth-init' | 'berth-monitor';

const ENV: Record<NativeBinary, string> = { 'berth-init': 'BERTH_INIT', 'berth-monitor': 'BERTH_MONITOR' };

export class NativeBinaryMissing extends Error {}

export function findNativeBinary(name: NativeBinary): string {
  const env = process.env[ENV[name]];
  if (env) return env;
  const here = typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url));
  for (const c of [resolve(here, '../native/build', name), resolve(here, '../../native/build', name)]) {
    if (existsSync(c)) return c;
  }
  throw new NativeBinaryMissing(`${name} (a native binary of berth) is not built: run \`npm install\` (make -C native)`);
}
