// The engine's spec builder against the real runtime: a busybox rootfs, config.json from
// buildSpec (docker's defaults), run with dist/berth-oci.js on this kernel.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { existsSync } from 'node:fs';

import { buildSpec } from '../../src/engine/spec/create.ts';
import type { ContainerConfig, HostConfig } from '../../src/engine/spec/docker-types.ts';
import { DOCKER_DEFAULT_CAPS } from '../../src/engine/spec/defaults.ts';
import { availableCapabilities } from '../../src/engine/spec/security.ts';
import { capMask } from '../../src/runtime/caps.ts';
import { makeBundle, oci, show, uniqueId, type CommandResult } from '../fixtures/busybox.ts';

const ROOT = '/run/berth-oci-test-h9spec';
const SKIP = process.getuid?.() !== 0 ? 'needs root' : false;
const M = 1024 * 1024;

after(async () => {
  await fs.rm(ROOT, { recursive: true, force: true });
});

/** Builds the spec for `cmd` with `hostConfig`/`config`, runs it in the foreground, removes the bundle. */
async function run(cmd: string[], hostConfig: HostConfig = {}, config: ContainerConfig = {}): Promise<CommandResult> {
  const b = await makeBundle();
  try {
    const id = uniqueId('h9spec');
    const { spec } = await buildSpec({ id: id.padEnd(64, '0'), image: { Cmd: cmd }, config, hostConfig, rootfs: b.rootfs, cgroupsPath: `/berth-h9spec/${id}` });
    await fs.writeFile(path.join(b.dir, 'config.json'), JSON.stringify(spec));
    return await oci(['run', '--bundle', b.dir, id], { root: ROOT, timeoutMs: 15_000 });
  } finally {
    await b.cleanup();
  }
}

const sh = (script: string): string[] => ['sh', '-c', script];

describe('engine spec on the real runtime', { skip: SKIP }, () => {
  test('default: docker\'s capability set, and mount / unshare(CLONE_NEWUSER) get EPERM', async () => {
    const r = await run(sh(
      'grep CapEff /proc/self/status; grep CapBnd /proc/self/status;' +
      'mount -t tmpfs x /tmp 2>&1; echo mount=$?;' +
      'unshare -U true 2>&1; echo unshare=$?;' +
      'grep -q " /proc/keys " /proc/mounts && echo keys=masked;' +
      'touch /proc/sys/kernel/h9 2>/dev/null; echo procsys=$?',
    ));
    assert.equal(r.code, 0, show(r));
    const mask = capMask(DOCKER_DEFAULT_CAPS).toString(16).padStart(16, '0');
    assert.match(r.stdout, new RegExp(`CapEff:\\s+${mask}\\n`));
    assert.match(r.stdout, new RegExp(`CapBnd:\\s+${mask}\\n`));
    assert.match(r.stdout, /mount: permission denied[^\n]*\nmount=(?!0)\d+/);
    assert.match(r.stdout, /unshare: unshare\(0x10000000\): Operation not permitted\nunshare=(?!0)\d+/);
    assert.match(r.stdout, /keys=masked\n/);
    assert.match(r.stdout, /procsys=(?!0)\d+/);
  });

  test('--cap-add SYS_ADMIN lifts the seccomp block on unshare as docker\'s profile does', async () => {
    const r = await run(sh('unshare -U true; echo unshare=$?'), { CapAdd: ['SYS_ADMIN'] });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /unshare=0/);
  });

  test('--privileged: mount works, all capabilities, /sys writable', async () => {
    const r = await run(sh('mount -t tmpfs x /tmp && grep -c " /tmp tmpfs" /proc/mounts; grep CapEff /proc/self/status; grep " /sys sysfs" /proc/mounts'), { Privileged: true });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^1\n/);
    assert.match(r.stdout, new RegExp(`CapEff:\\s+${capMask(availableCapabilities()).toString(16).padStart(16, '0')}\\n`));
    assert.match(r.stdout, / \/sys sysfs rw,/);
  });

  test('--memory 64m and --pids-limit land in the container\'s cgroup', async () => {
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
    const files = v2 ? '/sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max';
    const r = await run(['cat', ...files.split(' ')], { Memory: 64 * M, PidsLimit: 42 });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, `${64 * M}\n42\n`);
  });

  test('--init: tini is PID 1 and reaps an orphaned zombie', async () => {
    // the inner sh exits at once, leaving `sleep 0.1` to PID 1; after it dies, no zombie may remain
    const script = 'sh -c "sleep 0.1 &"; sleep 0.6; cat /proc/1/comm; for s in /proc/[0-9]*/status; do grep -H "^State:.*Z" $s; done; echo done';
    const r = await run(sh(script), { Init: true });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'docker-init\ndone\n');
  });

  test('-u resolves a user from the rootfs, -w is created, env has HOSTNAME', async () => {
    const r = await run(sh('id -u; id -g; pwd; echo $HOSTNAME'), {}, { User: 'berth', WorkingDir: '/home/berth/new', Hostname: 'h9host' });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, '1000\n1000\n/home/berth/new\nh9host\n');
  });

  test('--read-only refuses writes; --tmpfs is a writable tmpfs', async () => {
    const r = await run(sh('touch /h9 2>&1; echo root=$?; touch /scratch/x && echo tmpfs=ok; grep " /scratch " /proc/mounts'), { ReadonlyRootfs: true, Tmpfs: { '/scratch': 'size=1m' } });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /Read-only file system\nroot=1\n/);
    assert.match(r.stdout, /tmpfs=ok\ntmpfs \/scratch tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k/);
  });
});
