// Volumes in the container lifecycle, as Debian's docker CLI 20.10 (/usr/bin/docker) and the
// Docker SDK for Python (/usr/bin/python3) drive them against a berthd on a private socket, data
// root and exec root: an image's VOLUME becomes an anonymous volume with the image's content
// copied up, `-v name:/dst[:ro]`, `-v /dst`, `--mount type=volume`, `--volumes-from`, a tmpfs
// volume, inspect's Mounts, `ps --filter volume=`, `rm -v`, the in-use refusals of `volume rm`
// and `rmi`, and references that survive a daemon restart. Nothing is left behind: no
// container, volume, mount, cgroup or process.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { busyboxRootfs, runCommand, show, type CommandResult } from '../fixtures/busybox.ts';
import { alive, cgroupDirsOf } from '../fixtures/host.ts';
import { buildImage, pushImage } from '../fixtures/images.ts';
import { LocalRegistry } from '../fixtures/registry.ts';
import { tarDir } from '../fixtures/tar.ts';
import { waitFor } from '../fixtures/wait.ts';

const BERTHD = fileURLToPath(new URL('../../dist/berthd.js', import.meta.url));
const DOCKER = '/usr/bin/docker'; // Debian's 20.10 client, not /usr/local/bin/docker
const PYTHON = '/usr/bin/python3'; // Debian's, with python3-docker
const SKIP = process.getuid?.() !== 0 ? 'needs root' : false;

const reg = new LocalRegistry();
let T = '';
/** short: the monitors' sockets live under it and sun_path holds 108 bytes */
let EXEC = '';
let sock = '';
let daemon: ChildProcess | undefined;
let daemonLog = '';
/** plain busybox; busybox with VOLUME /data holding files; one more for rmi */
let IMG = '';
let IMGV = '';
let IMGR = '';
const seen = new Set<string>();

const env = (): NodeJS.ProcessEnv => ({ DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(T, 'docker-config') });
const dataRoot = (): string => join(T, 'data');
const volumeData = (name: string): string => join(dataRoot(), 'volumes', name, '_data');

function docker(args: string[]): Promise<CommandResult> {
  return runCommand(DOCKER, args, { env: env(), label: `docker ${args.join(' ')}`, timeoutMs: 60_000 });
}

async function dockerOk(args: string[]): Promise<string> {
  const r = await docker(args);
  assert.equal(r.code, 0, `${show(r)}\n--- berthd log ---\n${daemonLog.slice(-3000)}`);
  return r.stdout;
}

async function dockerFails(args: string[], stderr: string | RegExp): Promise<void> {
  const r = await docker(args);
  assert.notEqual(r.code, 0, show(r));
  if (typeof stderr === 'string') assert.equal(r.stderr, stderr, show(r));
  else assert.match(r.stderr, stderr, show(r));
}

/** `docker create|run -d ...` → the id, remembered for the leak check */
async function made(args: string[]): Promise<string> {
  const id = (await dockerOk(args)).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  seen.add(id);
  return id;
}

function raw(method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function startDaemon(): Promise<void> {
  const p = spawn(process.execPath, [BERTHD, '-H', `unix://${sock}`, '--data-root', dataRoot(), '--exec-root', EXEC,
    '--config-file', join(T, 'daemon.json')], { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderr!.setEncoding('utf8').on('data', (d: string) => { daemonLog = (daemonLog + d).slice(-20_000); });
  daemon = p;
  await waitFor('berthd to answer /_ping', async () => {
    if (p.exitCode !== null) assert.fail(`berthd exited ${p.exitCode}: ${daemonLog}`);
    try {
      return (await raw('GET', '/_ping')).status === 200;
    } catch {
      return false;
    }
  }, 15_000, () => daemonLog, 50);
}

async function stopDaemon(): Promise<void> {
  const p = daemon;
  daemon = undefined;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
  const code = await exited;
  clearTimeout(t);
  assert.equal(code, 0, `berthd exit on SIGTERM\n${daemonLog}`);
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(`${dir}/`));
}

function processesNaming(id: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(id) && alive(Number(name))) out.push(Number(name));
    } catch { /* exited */ }
  }
  return out;
}

const volumes = async (): Promise<string[]> => (await dockerOk(['volume', 'ls', '-q'])).split('\n').filter((l) => l !== '').sort();
const mountsOf = async (ref: string): Promise<Record<string, unknown>[]> => JSON.parse(await dockerOk(['inspect', '-f', '{{json .Mounts}}', ref])) as Record<string, unknown>[];

describe('berthd: volumes in the container lifecycle for the docker CLI and the Python SDK', { skip: SKIP, timeout: 300_000 }, () => {
  before(async () => {
    if (!existsSync(BERTHD)) throw new Error(`${BERTHD} is not built: run npm run build`);
    T = mkdtempSync(join(tmpdir(), 'h9p-berthd-'));
    EXEC = mkdtempSync('/run/h9p-');
    await reg.start();
    const rootfs = join(T, 'rootfs');
    await busyboxRootfs(rootfs);
    const cfg = { Cmd: ['/bin/sh'], Env: ['PATH=/bin:/sbin:/usr/bin'] };
    const plain = buildImage({ tars: [await tarDir(rootfs)], config: cfg });
    await pushImage(reg, 'h9p/busybox', 'latest', plain);
    const forRmi = buildImage({ tars: [await tarDir(rootfs)], config: { ...cfg, Env: [...cfg.Env, 'H9P=rmi'] } });
    await pushImage(reg, 'h9p/rmi', 'latest', forRmi);
    mkdirSync(join(rootfs, 'data', 'sub'), { recursive: true });
    chmodSync(join(rootfs, 'data'), 0o751);
    chmodSync(join(rootfs, 'data', 'sub'), 0o750);
    writeFileSync(join(rootfs, 'data', 'hello.txt'), 'from the image\n');
    writeFileSync(join(rootfs, 'data', 'sub', 'deep.txt'), 'deep\n');
    const withVolume = buildImage({ tars: [await tarDir(rootfs)], config: { ...cfg, Volumes: { '/data': {} } } });
    rmSync(rootfs, { recursive: true, force: true });
    await pushImage(reg, 'h9p/withvolume', 'latest', withVolume);
    IMG = `${reg.domain}/h9p/busybox`;
    IMGV = `${reg.domain}/h9p/withvolume`;
    IMGR = `${reg.domain}/h9p/rmi`;
    sock = join(T, 'berthd.sock');
    writeFileSync(join(T, 'daemon.json'), '{}\n');
    await startDaemon();
    for (const i of [IMG, IMGV, IMGR]) await dockerOk(['pull', '-q', i]);
  });

  after(async () => {
    try {
      if (daemon && daemon.exitCode === null) {
        const ids = (await docker(['ps', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
        if (ids.length > 0) await docker(['rm', '-f', '-v', ...ids]);
        const left = await volumes();
        if (left.length > 0) await docker(['volume', 'rm', ...left]);
        assert.deepEqual(left, [], 'the tests removed their volumes');
        await stopDaemon();
      }
      assert.deepEqual(mountsUnder(T), [], 'mounts left under the data root');
      for (const id of seen) {
        assert.deepEqual(cgroupDirsOf(id), [], `cgroups of ${id} left behind`);
        assert.deepEqual(processesNaming(id), [], `processes of ${id} left behind`);
      }
    } finally {
      if (daemon) await stopDaemon().catch(() => undefined);
      for (const p of mountsUnder(T).reverse()) await runCommand('umount', ['-l', p]).catch(() => undefined);
      await reg.stop();
      if (T) rmSync(T, { recursive: true, force: true });
      if (EXEC) rmSync(EXEC, { recursive: true, force: true });
    }
  });

  it('an image VOLUME is an anonymous volume with the image\'s content; volume rm refuses it while the container exists; rm keeps it, rm -v removes it', async () => {
    const id = await made(['run', '-d', '--name', 'h9p-imgvol', IMGV, 'sh', '-c', 'cat /data/hello.txt /data/sub/deep.txt; echo written > /data/new.txt']);
    assert.equal(Number((await dockerOk(['wait', id])).trim()), 0, daemonLog.slice(-2000));
    assert.equal(await dockerOk(['logs', id]), 'from the image\ndeep\n');
    const vols = await volumes();
    assert.equal(vols.length, 1, vols.join(','));
    const name = vols[0]!;
    assert.match(name, /^[0-9a-f]{64}$/);
    assert.deepEqual(await mountsOf(id), [{
      Type: 'volume', Name: name, Source: volumeData(name), Destination: '/data', Driver: 'local', Mode: '', RW: true, Propagation: '',
    }]);
    assert.equal(readFileSync(join(volumeData(name), 'new.txt'), 'utf8'), 'written\n', 'the container wrote into the volume');
    assert.equal(statSync(volumeData(name)).mode & 0o7777, 0o751, 'the volume root has the image directory\'s mode');
    assert.equal(statSync(join(volumeData(name), 'sub')).mode & 0o7777, 0o750, 'modes copied up');
    assert.equal(await dockerOk(['ps', '-aq', '--no-trunc', '--filter', `volume=${name}`]), `${id}\n`);
    assert.equal(await dockerOk(['ps', '-aq', '--no-trunc', '--filter', 'volume=/data']), `${id}\n`);
    assert.equal(await dockerOk(['ps', '-aq', '--filter', 'volume=h9p-nothing']), '');
    await dockerFails(['volume', 'rm', name], `Error response from daemon: remove ${name}: volume is in use - [${id}]\n`);
    const r = await raw('DELETE', `/v1.41/volumes/${name}`);
    assert.equal(r.status, 409, r.body);

    // rm without -v: the volume stays, dangling, with its data
    await dockerOk(['rm', id]);
    assert.deepEqual(await volumes(), [name]);
    assert.deepEqual((await dockerOk(['volume', 'ls', '-q', '-f', 'dangling=true'])).trim(), name);
    assert.equal(await dockerOk(['volume', 'rm', name]), `${name}\n`);

    // rm -v: the anonymous volume goes with the container; so does run --rm's
    const id2 = await made(['create', IMGV, 'true']);
    assert.equal((await volumes()).length, 1);
    await dockerOk(['rm', '-v', id2]);
    assert.deepEqual(await volumes(), []);
    assert.equal(await dockerOk(['run', '--rm', IMGV, 'ls', '/data']), 'hello.txt\nsub\n');
    assert.deepEqual(await volumes(), [], 'run --rm removes its anonymous volumes');

    // -v /dst (Config.Volumes): an anonymous volume too, empty where the image has nothing
    const id3 = await made(['create', '-v', '/h9p-anon', IMG, 'true']);
    const [m] = await mountsOf(id3);
    assert.equal(m!.Destination, '/h9p-anon');
    assert.equal(m!.Type, 'volume');
    assert.deepEqual(await volumes(), [m!.Name]);
    await dockerOk(['rm', '-v', id3]);
    assert.deepEqual(await volumes(), []);
  });

  it('a named volume: made by -v on first use, shared between containers, :ro refuses writes, Mode as docker shows it; --mount type=volume with volume-opt', async () => {
    await dockerOk(['run', '--rm', '-v', 'h9p-shared:/shared', IMG, 'sh', '-c', 'echo one > /shared/f']);
    assert.deepEqual(await volumes(), ['h9p-shared'], 'made on first use, kept after run --rm (a named volume)');
    assert.equal(await dockerOk(['run', '--rm', '-v', 'h9p-shared:/other', IMG, 'cat', '/other/f']), 'one\n');
    const ro = await docker(['run', '--rm', '-v', 'h9p-shared:/shared:ro', IMG, 'sh', '-c', 'echo two > /shared/f']);
    assert.notEqual(ro.code, 0, show(ro));
    assert.match(ro.stderr, /Read-only file system/);
    assert.equal(readFileSync(join(volumeData('h9p-shared'), 'f'), 'utf8'), 'one\n');

    const a = await made(['create', '--name', 'h9p-named', '-v', 'h9p-shared:/a', '-v', 'h9p-shared:/b:ro', IMG, 'true']);
    const mounts = (await mountsOf(a)).sort((x, y) => String(x.Destination).localeCompare(String(y.Destination)));
    assert.deepEqual(mounts, [
      { Type: 'volume', Name: 'h9p-shared', Source: volumeData('h9p-shared'), Destination: '/a', Driver: 'local', Mode: 'z', RW: true, Propagation: '' },
      { Type: 'volume', Name: 'h9p-shared', Source: volumeData('h9p-shared'), Destination: '/b', Driver: 'local', Mode: 'ro', RW: false, Propagation: '' },
    ]);
    assert.equal(await dockerOk(['ps', '-a', '--filter', 'volume=h9p-shared', '--format', '{{.Names}} {{.Mounts}}']), 'h9p-named h9p-shared,h9p-shared\n');
    await dockerFails(['volume', 'rm', 'h9p-shared'], `Error response from daemon: remove h9p-shared: volume is in use - [${a}]\n`);
    await dockerOk(['rm', '-v', a]);
    assert.deepEqual(await volumes(), ['h9p-shared'], 'rm -v keeps a named volume');

    // --mount: the volume is made with its options (a tmpfs here); nocopy leaves it empty
    const b = await made(['run', '-d', '--mount', 'type=volume,src=h9p-mnt,dst=/data,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=2m,volume-nocopy', IMGV, 'sh', '-c', 'ls -A /data; df -k /data']);
    assert.equal(Number((await dockerOk(['wait', b])).trim()), 0);
    const out = await dockerOk(['logs', b]);
    assert.match(out, /^Filesystem/, `nothing copied from the image's /data: ${out}`);
    assert.match(out, /\s2048\s/, out);
    assert.equal(await dockerOk(['volume', 'inspect', '-f', '{{json .Options}}', 'h9p-mnt']), '{"device":"tmpfs","o":"size=2m","type":"tmpfs"}\n');
    await dockerOk(['rm', '-v', b]);
    assert.deepEqual(mountsUnder(join(dataRoot(), 'volumes')), [], 'the tmpfs is unmounted with its last user');
    assert.equal(await dockerOk(['volume', 'rm', 'h9p-shared', 'h9p-mnt']), 'h9p-shared\nh9p-mnt\n');
  });

  it('--volumes-from: the same volumes and binds at the same destinations, :ro; rm -v of the second keeps the first\'s anonymous volume', async () => {
    const host = join(T, 'h9p-bind');
    mkdirSync(host);
    writeFileSync(join(host, 'z'), 'bound\n');
    const a = await made(['run', '-d', '--name', 'h9p-vfa', '-v', 'h9p-vf:/named', '-v', `${host}:/bind`, IMGV, 'sh', '-c', 'echo n > /named/x; echo a > /data/y']);
    assert.equal(Number((await dockerOk(['wait', a])).trim()), 0);
    const anon = (await volumes()).find((v) => v !== 'h9p-vf')!;
    assert.ok(anon);
    const b = await made(['run', '-d', '--name', 'h9p-vfb', '--volumes-from', 'h9p-vfa', IMG, 'cat', '/named/x', '/data/y', '/data/hello.txt', '/bind/z']);
    assert.equal(Number((await dockerOk(['wait', b])).trim()), 0);
    assert.equal(await dockerOk(['logs', b]), 'n\na\nfrom the image\nbound\n');
    const byDest = (ms: Record<string, unknown>[]): Record<string, unknown>[] => ms.sort((x, y) => String(x.Destination).localeCompare(String(y.Destination)));
    assert.deepEqual(byDest(await mountsOf(b)), [
      { Type: 'bind', Source: host, Destination: '/bind', Mode: '', RW: true, Propagation: 'rprivate' },
      { Type: 'volume', Name: anon, Source: volumeData(anon), Destination: '/data', Driver: 'local', Mode: '', RW: true, Propagation: '' },
      { Type: 'volume', Name: 'h9p-vf', Source: volumeData('h9p-vf'), Destination: '/named', Driver: 'local', Mode: '', RW: true, Propagation: '' },
    ]);
    const ro = await docker(['run', '--rm', '--volumes-from', 'h9p-vfa:ro', IMG, 'sh', '-c', 'echo no > /data/y']);
    assert.notEqual(ro.code, 0, show(ro));
    assert.match(ro.stderr, /Read-only file system/);
    await dockerFails(['run', '--rm', '--volumes-from', 'h9p-vfa:rshared', IMG, 'true'], /invalid mode: rshared/);
    await dockerFails(['run', '--rm', '--volumes-from', 'h9p-nosuch', IMG, 'true'], /No such container: h9p-nosuch/);
    await dockerFails(['volume', 'rm', anon], new RegExp(`remove ${anon}: volume is in use - \\[(${a}, ${b}|${b}, ${a})\\]`));

    await dockerOk(['rm', '-v', b]);
    assert.deepEqual(await volumes(), [anon, 'h9p-vf'].sort(), 'the first container still uses its anonymous volume');
    await dockerOk(['rm', '-v', a]);
    assert.deepEqual(await volumes(), ['h9p-vf'], 'rm -v of its last user removes it; the named one stays');
    assert.equal(readFileSync(join(host, 'z'), 'utf8'), 'bound\n', 'a bind source is never removed');
    await dockerOk(['volume', 'rm', 'h9p-vf']);
  });

  it('a tmpfs volume (volume create -o type=tmpfs -o device=tmpfs -o o=size=1m): mounted for its container with its size, unmounted after', async () => {
    await dockerOk(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'h9p-tmp']);
    assert.deepEqual(mountsUnder(join(dataRoot(), 'volumes')), [], 'not mounted while unused');
    const out = await dockerOk(['run', '--rm', '-v', 'h9p-tmp:/t', IMG, 'sh', '-c', 'df -k /t | tail -n 1; echo x > /t/f; cat /t/f']);
    const [df, x] = out.trim().split('\n');
    assert.match(df!, /^tmpfs\s+1024\s/, out);
    assert.equal(x, 'x');
    assert.deepEqual(mountsUnder(join(dataRoot(), 'volumes')), [], 'unmounted once the container is gone');
    await dockerOk(['volume', 'rm', 'h9p-tmp']);
  });

  it('the Python SDK: a named volume with mode ro, attrs Mounts, remove(v=True)', async () => {
    const script = [
      'import docker, json',
      'c = docker.from_env()',
      `out = c.containers.run(${JSON.stringify(IMGV)}, ['cat', '/data/hello.txt'], volumes={'h9p-py': {'bind': '/data', 'mode': 'ro'}}, remove=True)`,
      'print(out.decode().strip())',
      `k = c.containers.create(${JSON.stringify(IMGV)}, ['true'])`,
      'k.reload()',
      'print(json.dumps([[m["Type"], m["Destination"], m["RW"], len(m["Name"])] for m in k.attrs["Mounts"]]))',
      'k.remove(v=True)',
      'print(sorted(v.name for v in c.volumes.list()))',
      "c.volumes.get('h9p-py').remove()",
    ].join('\n');
    const r = await runCommand(PYTHON, ['-c', script], { env: env(), label: 'python3 docker SDK', timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${show(r)}\n${daemonLog.slice(-2000)}`);
    assert.deepEqual(r.stdout.trim().split('\n'), ['from the image', '[["volume", "/data", true, 64]]', "['h9p-py']"]);
    assert.deepEqual(await volumes(), []);
  });

  it('rmi of an image a container uses: docker\'s 409 and words; -f of a running one\'s image untags only; by ID: must / cannot be forced', async () => {
    const imageId = (await dockerOk(['image', 'inspect', '-f', '{{.Id}}', IMGR])).trim();
    const short = imageId.slice('sha256:'.length, 'sha256:'.length + 12);
    const stopped = await made(['create', IMGR, 'true']);
    await dockerFails(['rmi', IMGR], `Error response from daemon: conflict: unable to remove repository reference "${IMGR}" (must force) - container ${stopped.slice(0, 12)} is using its referenced image ${short}\n`);
    const r = await raw('DELETE', `/v1.41/images/${encodeURIComponent(IMGR)}`);
    assert.equal(r.status, 409, r.body);
    await dockerFails(['rmi', short], `Error response from daemon: conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${stopped.slice(0, 12)}\n`);
    await dockerOk(['rm', stopped]);

    const running = await made(['run', '-d', IMGR, 'sleep', '1000']);
    const untag = await dockerOk(['rmi', '-f', IMGR]);
    assert.match(untag, new RegExp(`^Untagged: ${IMGR.replace(/[.]/g, '\\.')}:latest\\n`), untag);
    assert.doesNotMatch(untag, /Deleted:/);
    assert.equal((await dockerOk(['image', 'inspect', '-f', '{{.Id}}', imageId])).trim(), imageId, 'the image stays for its running container');
    await dockerFails(['rmi', '-f', short], `Error response from daemon: conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${running.slice(0, 12)}\n`);
    await dockerOk(['rm', '-f', running]);
    assert.match(await dockerOk(['rmi', short]), new RegExp(`Deleted: ${imageId}`));
  });

  it('a daemon restart keeps the references: volume rm is still refused while the container exists, Mounts unchanged; rm -v then removes the anonymous one', async () => {
    const id = await made(['create', '--name', 'h9p-restart', '-v', 'h9p-keep:/keep', IMGV, 'true']);
    const before = await mountsOf(id);
    const anon = (await volumes()).find((v) => v !== 'h9p-keep')!;
    await stopDaemon();
    await startDaemon();
    await dockerFails(['volume', 'rm', 'h9p-keep'], `Error response from daemon: remove h9p-keep: volume is in use - [${id}]\n`);
    await dockerFails(['volume', 'rm', anon], `Error response from daemon: remove ${anon}: volume is in use - [${id}]\n`);
    assert.deepEqual(await mountsOf(id), before);
    assert.equal(await dockerOk(['start', '-a', id]), '');
    await dockerOk(['rm', '-v', id]);
    assert.deepEqual(await volumes(), ['h9p-keep']);
    await dockerOk(['volume', 'rm', 'h9p-keep']);
  });

  it('a create or an rm -v the daemon died in is finished at its start: the container\'s anonymous volume goes, a named one is released', async () => {
    const half = await made(['create', '-v', 'h9p-half:/named', IMGV, 'true']);
    const removing = await made(['create', IMGV, 'true']);
    assert.equal((await volumes()).length, 3);
    await stopDaemon();
    // the records as a kill -9 leaves them: in the middle of create, and of rm -v
    const recFile = (id: string): string => join(dataRoot(), 'containers', id, 'config.v2.json');
    const edit = (id: string, f: (r: Record<string, unknown>) => void): void => {
      const r = JSON.parse(readFileSync(recFile(id), 'utf8')) as Record<string, unknown>;
      f(r);
      writeFileSync(recFile(id), JSON.stringify(r));
    };
    edit(half, (r) => { r.creating = true; });
    edit(removing, (r) => { r.state = { ...(r.state as object), Status: 'removing' }; r.removeVolumes = true; });
    await startDaemon();
    assert.equal(await dockerOk(['ps', '-aq']), '');
    assert.deepEqual(await volumes(), ['h9p-half'], 'both anonymous volumes removed, the named one kept');
    assert.equal(await dockerOk(['volume', 'rm', 'h9p-half']), 'h9p-half\n', 'and no longer in use');
    assert.deepEqual(mountsUnder(dataRoot()), []);
  });
});
