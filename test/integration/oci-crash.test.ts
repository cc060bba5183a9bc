// berth-oci dying in the middle of create: nothing may stay running, and delete cleans up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { BERTH_OCI, DEFAULT_OCI_ROOT, makeBundle, oci, uniqueId } from '../fixtures/busybox.ts';

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

function cgroupDirs(id: string): string[] {
  return ['cpu', 'memory', 'pids', 'unified'].map((h) => `/sys/fs/cgroup/${h}/berth/${id}`);
}

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
    assert.ok(await waitFor(() => existsSync(marker), 15000), 'the createRuntime hook never started');
    const state = JSON.parse(readFileSync(`${DEFAULT_OCI_ROOT}/${id}/state.json`, 'utf8'));
    assert.ok(state.pid > 0, 'the init pid is recorded before the hooks run');
    assert.ok(alive(state.pid), 'the init is alive while create waits for its hooks');
    child.kill('SIGKILL');
    // the init loses its sync socket and must exit instead of lingering half-built
    assert.ok(await waitFor(() => !alive(state.pid), 5000), `init ${state.pid} still alive after berth-oci was killed`);
    const st = await oci(['state', id]);
    assert.equal(JSON.parse(st.stdout).status, 'stopped');
    const del = await oci(['delete', id]);
    assert.equal(del.code, 0, del.stderr);
    assert.ok(!existsSync(`${DEFAULT_OCI_ROOT}/${id}`), 'state dir left');
    for (const d of cgroupDirs(id)) assert.ok(!existsSync(d), `cgroup ${d} left`);
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
    assert.ok(await waitFor(() => !alive(realPid), 5000));
    state.pid = 0;
    state.pidStart = '';
    writeFileSync(file, JSON.stringify(state));
    assert.equal(JSON.parse((await oci(['state', id])).stdout).status, 'creating');
    // kill(0, SIGKILL) would take our own process group down with it: this test would not finish
    const del = await oci(['delete', '--force', id]);
    assert.equal(del.code, 0, del.stderr);
    assert.ok(!existsSync(`${DEFAULT_OCI_ROOT}/${id}`));
    for (const d of cgroupDirs(id)) assert.ok(!existsSync(d), `cgroup ${d} left`);
  } finally {
    await oci(['delete', '--force', id]);
    await b.cleanup();
  }
});
