// berthd's pid files: of daemons starting at once on one root exactly one takes each file, and
// none ever finds it empty and takes it for a stale one (which let two berthds share a root).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

import { acquirePidFile } from '../../src/cli/pidfile.ts';

const PIDFILE = fileURLToPath(new URL('../../src/cli/pidfile.ts', import.meta.url));

/** A process that tries to take `path` and, when it does, holds it for `holdMs`: prints `won` or `lost`. */
function contender(path: string, go: string, holdMs: number): Promise<string> {
  // each spins until \`go\` exists, so that all of them race within the same instant
  const code = `import { acquirePidFile } from ${JSON.stringify(PIDFILE)}; import { existsSync } from 'node:fs';
    console.log('ready'); while (!existsSync(${JSON.stringify(go)})) {}
    try { await acquirePidFile(${JSON.stringify(path)}, 'root'); console.log('won'); await new Promise((r) => setTimeout(r, ${holdMs})); }
    catch (e) { console.log('lost'); }`;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += String(d);
      if (out.startsWith('ready\n')) onReady();
    });
    p.on('error', reject);
    p.on('exit', () => resolve(out.replace(/^ready\n/, '').trim()));
  });
}
let onReady = (): void => undefined;

test('of 12 processes taking one pid file at once, exactly one wins, 5 times over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-pidfile-'));
  try {
    for (let round = 0; round < 5; round++) {
      const path = join(dir, `berthd-${round}.pid`);
      const go = join(dir, `go-${round}`);
      let ready = 0;
      onReady = () => {
        if (++ready === 12) writeFileSync(go, '');
      };
      const results = await Promise.all(Array.from({ length: 12 }, () => contender(path, go, 1500)));
      assert.equal(results.filter((r) => r === 'won').length, 1, `round ${round}: ${results.join(' ')}`);
      assert.equal(results.filter((r) => r === 'lost').length, 11);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a pid file of a dead process is taken over; a live one is refused with its pid', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-pidfile-'));
  try {
    const path = join(dir, 'berthd.pid');
    writeFileSync(path, '999999999\n');
    const release = await acquirePidFile(path, 'exec root X');
    assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`);
    writeFileSync(path, '1\n'); // init: alive
    await assert.rejects(acquirePidFile(path, 'exec root X'), /exec root X is in use by a running berthd \(pid 1, /);
    writeFileSync(path, `${process.pid}\n`);
    await release();
    assert.throws(() => readFileSync(path), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
