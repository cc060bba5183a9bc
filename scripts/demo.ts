// The demo behind `npm start`: an image from Debian's busybox-static goes through a real registry
// (Debian's docker-registry on 127.0.0.1, started here) and runs as a container, then explains
// itself. Every step is a berth or berth-oci command, printed before it runs:
//   import → push → rmi → pull → images → bundle create → berth-oci run → trace → clean-up.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { BERTH_OCI, busyboxRootfs } from '../test/fixtures/busybox.ts';
import { LocalRegistry } from '../test/fixtures/registry.ts';

const BERTH = join(import.meta.dirname, '..', 'dist', 'berth.js');
const T = mkdtempSync('/var/tmp/berth-demo-');
const root = join(T, 'berth'); // the image store (berth --root)
const ociRoot = join(T, 'oci'); // berth-oci's state (--root)
const bundle = join(T, 'bundle');
const id = `demo-${process.pid}`;
const registry = new LocalRegistry();

/** An argument as a shell would need it typed. */
const shq = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);

/** Runs and echoes `berth ARGS` (shown without --root, as a user would type it). */
function berth(...args: string[]): number {
  console.log(`\n$ berth ${args.map(shq).join(' ')}`);
  return spawnSync('node', [BERTH, '--root', root, ...args], { stdio: ['ignore', 'inherit', 'inherit'] }).status ?? 1;
}
function oci(...args: string[]): number {
  console.log(`\n$ berth-oci ${args.map(shq).join(' ')}`);
  return spawnSync('node', [BERTH_OCI, '--root', ociRoot, ...args], { stdio: ['ignore', 'inherit', 'inherit'] }).status ?? 1;
}
function must(code: number, what: string): void {
  if (code !== 0) throw new Error(`demo: ${what} failed (exit ${code})`);
}

let mounted = false;
try {
  await registry.start();
  const image = `${registry.domain}/demo/busybox:1`;
  console.log(`a registry: Debian's docker-registry on ${registry.url}; an image made from Debian's busybox-static`);
  await busyboxRootfs(join(T, 'rootfs'));
  must(spawnSync('tar', ['-C', join(T, 'rootfs'), '-cf', join(T, 'rootfs.tar'), '.']).status ?? 1, 'tar');
  const cmd = 'echo "hello from $(hostname), pid $$ in its own pid namespace"; echo "my root:"; ls /; grep -E "^(Cap(Eff|Bnd)|NoNewPrivs|Seccomp):" /proc/self/status';
  must(berth('import', '--change', `CMD ["/bin/sh", "-c", ${JSON.stringify(cmd)}]`, join(T, 'rootfs.tar'), image), 'import');
  must(berth('push', image), 'push');
  must(berth('rmi', image), 'rmi');
  must(berth('pull', image), 'pull');
  must(berth('images'), 'images');
  must(berth('bundle', 'create', image, bundle), 'bundle create');
  mounted = true;
  const run = oci('run', '--keep', '--bundle', bundle, id);
  console.log(`(exit status ${run})`);
  must(oci('trace', id), 'trace');
  must(oci('delete', id), 'delete');
  must(berth('bundle', 'rm', bundle), 'bundle rm');
  mounted = false;
} finally {
  spawnSync('node', [BERTH_OCI, '--root', ociRoot, 'delete', '--force', id], { stdio: 'ignore' });
  if (mounted) spawnSync('node', [BERTH, '--root', root, 'bundle', 'rm', bundle], { stdio: 'inherit' });
  await registry.stop();
  rmSync(T, { recursive: true, force: true });
}
