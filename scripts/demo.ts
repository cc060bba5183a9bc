// The demo behind `npm start`: one container, start to finish, and its creation trace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { BERTH_OCI, makeBundle } from '../test/fixtures/busybox.ts';

const root = mkdtempSync('/run/berth-oci-demo-');
const id = `demo-${process.pid}`;
const bundle = await makeBundle({
  args: ['/bin/sh', '-c', 'echo "hello from $(hostname), pid $$ in its own pid namespace"; echo "my root:"; ls /; grep -E "^(Cap(Eff|Bnd)|NoNewPrivs|Seccomp):" /proc/self/status'],
  mutate: (spec) => {
    spec.hostname = 'berth-demo';
  },
});
const oci = (...args: string[]) => spawnSync('node', [BERTH_OCI, '--root', root, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
try {
  console.log(`$ berth-oci run --keep --bundle ${bundle.dir} ${id}`);
  const run = oci('run', '--keep', '--bundle', bundle.dir, id);
  console.log(`(exit status ${run.status})\n`);
  console.log(`$ berth-oci trace ${id}   # how the container was built, step by step`);
  oci('trace', id);
  oci('delete', id);
} finally {
  spawnSync('node', [BERTH_OCI, '--root', root, 'delete', '--force', id], { stdio: 'ignore' });
  rmSync(root, { recursive: true, force: true });
  await bundle.cleanup();
}
