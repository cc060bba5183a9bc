// The engine's view of the in-process runtime: what a daemon killed mid-create leaves must go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BuiltinRuntime } from '../../src/engine/runtimes.ts';
import { Runtime } from '../../src/runtime/container.ts';

test('delete --force of a bare runtime directory (a create killed before its state was written) removes it; without force it stays', async () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-rt-'));
  try {
    const rt = new BuiltinRuntime(new Runtime(root));
    const id = 'a'.repeat(64);
    mkdirSync(join(root, id));
    await rt.delete(id, false);
    assert.ok(existsSync(join(root, id)), 'a plain delete leaves what it cannot read');
    await rt.delete(id, true);
    assert.ok(!existsSync(join(root, id)), 'delete --force removed the bare directory');
    await rt.delete(id, true); // and nothing there is not an error
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
