// berth-oci dying in the middle of create: nothing may stay running, and delete cleans up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { BERTH_OCI, DEFAULT_OCI_ROOT, makeBundle, oci, uniqueId } from '../fixtures/busybox.ts';
import { alive, cgroupDirsOf } from '../fixtures/host.ts';
import { waitFor } from '../fixtures/wait.ts';

test('SIGKILL of berth-oci during create: the init exits by itself and delete removes state and cgroups', async () => {
  const hookDir = mkdtempSync('/var/tmp/berth-crash-');
  const marker = `${hookDir}/hook-started`;
  writeFileSync(`${hookDir}/hook.sh`, `#!/bin/sh\ntouch ${marker}\nsleep 30\n`, { mode: 0o755 });
  const b = await makeBundle({
    args: ['sleep', '100'],
    mutate: (s) => {
      s.hooks = { createRuntime: [{ path: `${hookDir}/hook.sh` }] };
    },
  });
  const id = uniqueId('crash');
  try {
    const child = spawn('node', [BERTH_OCI, '--root', DEFAULT_OCI_ROOT, 'create', '--bundle', b.dir, id], { stdio: 'ignore' });
    await waitFor('the createRuntime hook to start', () => existsSync(marker), 15000);
    const state = JSON.parse(readFileSync(`${DEFAULT_OCI_ROOT}/${id}/state.json`, 'utf8'));
    assert.ok(state.pid > 0, 'the init pid is recorded before the hooks run');
    assert.ok(alive(state.pid), 'the init is alive while create waits for its hooks');
    child.kill('SIGKILL');
    // the init loses its sync socket and must exit instead of lingering half-built
    await waitFor(`init ${state.pid} to exit after berth-oci was killed`, () => !alive(state.pid), 5000);
    const st = await oci(['state', id]);
    assert.equal(JSON.parse(st.stdout).status, 'stopped');
    const del = await oci(['delete', id]);
    assert.equal(del.code, 0, del.stderr);
    assert.ok(!existsSync(`${DEFAULT_OCI_ROOT}/${id}`), 'state dir left');
    assert.deepEqual(cgroupDirsOf(id), [], 'cgroups left');
  } finally {
    await oci(['delete', '--force', id]);
    spawn('pkill', ['-f', `${hookDir}/hook.sh`]);
    rmSync(hookDir, { recursive: true, force: true });
    await b.cleanup();
  }
});

test('delete --force of a create that died before its init existed (pid 0) touches no process', async () => {
  const id = uniqueId('pid0');
  const b = await makeBundle({ args: ['true'] });
  try {
    // what a crash right after the id was claimed leaves: a state with pid 0
    const c = await oci(['create', '--bundle', b.dir, id]);
    assert.equal(c.code, 0, c.stderr);
    const file = `${DEFAULT_OCI_ROOT}/${id}/state.json`;
    const state = JSON.parse(readFileSync(file, 'utf8'));
    const realPid = state.pid;
    await oci(['kill', id, 'KILL']);
    await waitFor(`init ${realPid} to die of SIGKILL`, () => !alive(realPid), 5000);
    state.pid = 0;
    state.pidStart = '';
    writeFileSync(file, JSON.stringify(state));
    assert.equal(JSON.parse((await oci(['state', id])).stdout).status, 'creating');
    // kill(0, SIGKILL) would take our own process group down with it: this test would not finish
    const del = await oci(['delete', '--force', id]);
    assert.equal(del.code, 0, del.stderr);
    assert.ok(!existsSync(`${DEFAULT_OCI_ROOT}/${id}`));
    assert.deepEqual(cgroupDirsOf(id), [], 'cgroups left');
  } finally {
    await oci(['delete', '--force', id]);
    await b.cleanup();
  }
});
