// berthd's volume endpoints as real clients use them: Debian's docker CLI 20.10 (/usr/bin/docker,
// API 1.41) and the Docker SDK for Python (/usr/bin/python3), plus raw HTTP for statuses and
// bodies, against a berthd on a private socket, data root and exec root. A volume in use (a
// reference a container create took through the engine's interface while berthd was stopped)
// survives the restart: refused by rm, kept by prune, its tmpfs mounted. Nothing is left behind:
// no volume, no mount, no directory.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { VolumeService } from '../../src/engine/volumes/index.ts';
import { runCommand, show, type CommandResult } from '../fixtures/busybox.ts';

const BERTHD = fileURLToPath(new URL('../../dist/berthd.js', import.meta.url));
const DOCKER = '/usr/bin/docker'; // Debian's 20.10 client, not /usr/local/bin/docker
const PYTHON = '/usr/bin/python3'; // Debian's, with python3-docker
const SKIP = process.getuid?.() !== 0 ? 'needs root' : false;
const CID = 'c9'.repeat(32);

let T = '';
let sock = '';
let daemon: ChildProcess | undefined;
let daemonLog = '';

const dataRoot = (): string => join(T, 'data');
const env = (): NodeJS.ProcessEnv => ({ DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(T, 'docker-config') });

function docker(args: string[]): Promise<CommandResult> {
  return runCommand(DOCKER, args, { env: env(), label: `docker ${args.join(' ')}`, timeoutMs: 30_000 });
}

async function dockerOk(args: string[]): Promise<string> {
  const r = await docker(args);
  assert.equal(r.code, 0, `${show(r)}\n--- berthd log ---\n${daemonLog.slice(-3000)}`);
  return r.stdout;
}

async function dockerFails(args: string[], stderr: RegExp | string): Promise<void> {
  const r = await docker(args);
  assert.equal(r.code, 1, show(r));
  if (typeof stderr === 'string') assert.equal(r.stderr, stderr);
  else assert.match(r.stderr, stderr);
}

async function python(script: string): Promise<string> {
  const r = await runCommand(PYTHON, ['-c', `import docker, json\nc = docker.from_env()\n${script}`], { env: env(), label: 'python3 docker SDK', timeoutMs: 30_000 });
  assert.equal(r.code, 0, show(r));
  return r.stdout;
}

interface RawAnswer { status: number; body: string }

function raw(method: string, path: string, body?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, method, path, headers: body !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function startDaemon(): Promise<void> {
  const p = spawn(process.execPath, [BERTHD, '-H', `unix://${sock}`, '--data-root', dataRoot(), '--exec-root', join(T, 'exec'),
    '--config-file', join(T, 'daemon.json')], { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderr!.setEncoding('utf8').on('data', (d: string) => { daemonLog = (daemonLog + d).slice(-20_000); });
  daemon = p;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (p.exitCode !== null) throw new Error(`berthd exited ${p.exitCode}: ${daemonLog}`);
    try {
      if ((await raw('GET', '/_ping')).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`berthd did not answer on ${sock}: ${daemonLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
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

const names = async (args: string[] = []): Promise<string[]> => (await dockerOk(['volume', 'ls', '-q', ...args])).split('\n').filter((l) => l !== '').sort();

describe('berthd: docker volume create/ls/inspect/rm/prune for the docker CLI, the Python SDK and raw HTTP', { skip: SKIP }, () => {
  before(async () => {
    if (!existsSync(BERTHD)) throw new Error(`${BERTHD} is not built: run npm run build`);
    T = mkdtempSync(join(tmpdir(), 'h9l-api-'));
    sock = join(T, 'berthd.sock');
    writeFileSync(join(T, 'daemon.json'), '{}\n');
    await startDaemon();
  });

  after(async () => {
    try {
      await stopDaemon();
      if (T && existsSync(dataRoot())) {
        // whatever a failed test left: references, then volumes (their tmpfs mounts go with them)
        const s = await VolumeService.open(dataRoot());
        await s.reconcile([]);
        await s.prune();
        assert.deepEqual(mountsUnder(T), [], 'no mount is left behind');
      }
    } finally {
      if (T) rmSync(T, { recursive: true, force: true });
    }
  });

  it('create, ls and inspect in docker\'s formats', async () => {
    assert.equal(await dockerOk(['volume', 'create', 'h9l-a']), 'h9l-a\n');
    const generated = (await dockerOk(['volume', 'create'])).trim();
    assert.match(generated, /^[0-9a-f]{64}$/, 'no name: 64 hex digits');
    const ls = await dockerOk(['volume', 'ls']);
    assert.equal(ls.split('\n')[0], 'DRIVER    VOLUME NAME');
    assert.match(ls, /^local     h9l-a$/m);
    assert.deepEqual(await names(), [generated, 'h9l-a'].sort());
    const [v] = JSON.parse(await dockerOk(['volume', 'inspect', 'h9l-a']));
    const mountpoint = join(dataRoot(), 'volumes', 'h9l-a', '_data');
    assert.deepEqual(Object.keys(v), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
    assert.match(v.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
    assert.ok(Math.abs(Date.parse(v.CreatedAt) - Date.now()) < 60_000);
    assert.deepEqual({ ...v, CreatedAt: '' }, { CreatedAt: '', Driver: 'local', Labels: {}, Mountpoint: mountpoint, Name: 'h9l-a', Options: {}, Scope: 'local' });
    assert.ok(statSync(mountpoint).isDirectory());
    assert.equal(statSync(join(dataRoot(), 'volumes')).mode & 0o777, 0o701);
    assert.equal(statSync(join(dataRoot(), 'volumes', 'h9l-a')).mode & 0o777, 0o700);
    assert.equal(await dockerOk(['volume', 'inspect', '--format', '{{.Mountpoint}} {{.Scope}}', 'h9l-a']), `${mountpoint} local\n`);
    // create of an existing name answers the volume as it is (docker's idempotent create)
    assert.equal(await dockerOk(['volume', 'create', '--label', 'late=1', 'h9l-a']), 'h9l-a\n');
    assert.deepEqual(JSON.parse(await dockerOk(['volume', 'inspect', '--format', '{{json .Labels}}', 'h9l-a'])), {});
    assert.equal(await dockerOk(['volume', 'rm', 'h9l-a', generated]), `h9l-a\n${generated}\n`);
    assert.deepEqual(await names(), []);
    assert.equal(existsSync(join(dataRoot(), 'volumes', 'h9l-a')), false);
  });

  it('labels and the list filters: label, label=value, name, driver, dangling; a bad filter is docker\'s error', async () => {
    await dockerOk(['volume', 'create', '--label', 'h9l=one', '--label', 'tier=db', 'h9l-f1']);
    await dockerOk(['volume', 'create', '--label', 'h9l=two', 'h9l-f2']);
    await dockerOk(['volume', 'create', 'h9l-other']);
    assert.deepEqual(JSON.parse(await dockerOk(['volume', 'inspect', '--format', '{{json .Labels}}', 'h9l-f1'])), { h9l: 'one', tier: 'db' });
    assert.deepEqual(await names(['-f', 'label=h9l']), ['h9l-f1', 'h9l-f2']);
    assert.deepEqual(await names(['-f', 'label=h9l=two']), ['h9l-f2']);
    assert.deepEqual(await names(['-f', 'label=h9l', '-f', 'label=tier']), ['h9l-f1']);
    assert.deepEqual(await names(['-f', 'name=f[12]$']), ['h9l-f1', 'h9l-f2']);
    assert.deepEqual(await names(['-f', 'name=h9l-other']), ['h9l-other']);
    assert.deepEqual(await names(['-f', 'driver=local', '-f', 'name=other']), ['h9l-other']);
    assert.deepEqual(await names(['-f', 'driver=nfs']), []);
    assert.deepEqual(await names(['-f', 'dangling=true']), ['h9l-f1', 'h9l-f2', 'h9l-other']);
    assert.deepEqual(await names(['-f', 'dangling=false']), []);
    assert.equal(await dockerOk(['volume', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Label "h9l"}}', '-f', 'label=h9l']), 'h9l-f1 local one\nh9l-f2 local two\n');
    await dockerFails(['volume', 'ls', '-f', 'bogus=1'], 'Error response from daemon: Invalid filter \'bogus\'\n');
    await dockerFails(['volume', 'ls', '-f', 'dangling=maybe'], 'Error response from daemon: Invalid filter \'dangling=[maybe]\'\n');
    const r = await raw('GET', `/v1.41/volumes?filters=${encodeURIComponent('{"label":["h9l=one"]}')}`);
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body);
    assert.deepEqual(Object.keys(body), ['Volumes', 'Warnings']);
    assert.deepEqual(body.Volumes.map((v: { Name: string }) => v.Name), ['h9l-f1']);
    assert.equal(body.Warnings, null);
    await dockerOk(['volume', 'rm', 'h9l-f1', 'h9l-f2', 'h9l-other']);
  });

  it('refuses bad names, options and drivers with docker\'s messages and statuses', async () => {
    const invalid = (n: string): string => `Error response from daemon: create ${n}: "${n}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path\n`;
    await dockerFails(['volume', 'create', 'a/b'], invalid('a/b'));
    await dockerFails(['volume', 'create', '.hidden'], invalid('.hidden'));
    await dockerFails(['volume', 'create', 'x'], 'Error response from daemon: create x: volume name is too short, names should be at least two alphanumeric characters\n');
    await dockerFails(['volume', 'create', '-o', 'foo=bar', 'h9l-o'], 'Error response from daemon: create h9l-o: invalid option: "foo"\n');
    await dockerFails(['volume', 'create', '-o', 'type=tmpfs', 'h9l-o'], 'Error response from daemon: create h9l-o: missing required option: "device"\n');
    await dockerFails(['volume', 'create', '-o', 'o=size=1m', 'h9l-o'], 'Error response from daemon: create h9l-o: missing required option: "device"\n');
    await dockerFails(['volume', 'create', '-d', 'nfsplugin', 'h9l-o'], 'Error response from daemon: error looking up volume plugin nfsplugin: plugin "nfsplugin" not found\n');
    const bad = await raw('POST', '/v1.41/volumes/create', JSON.stringify({ Name: 'a b' }));
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.body).message, /^create a b: "a b" includes invalid characters/);
    const malformed = await raw('POST', '/volumes/create', '{"Name": ');
    assert.equal(malformed.status, 400);
    assert.match(JSON.parse(malformed.body).message, /^malformed JSON request body: /);
    const labels = await raw('POST', '/volumes/create', JSON.stringify({ Name: 'h9l-l', Labels: { a: 1 } }));
    assert.equal(labels.status, 400);
    assert.deepEqual(JSON.parse(labels.body), { message: 'Labels.a: want a string, got number' });
    assert.deepEqual(await names(), [], 'no half-made volume');
  });

  it('inspect and rm of a missing volume: 404, the CLI\'s "No such volume", rm -f succeeds', async () => {
    const r = await raw('GET', '/v1.41/volumes/h9l-missing');
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(r.body), { message: 'get h9l-missing: no such volume' });
    const d = await raw('DELETE', '/v1.41/volumes/h9l-missing');
    assert.equal(d.status, 404);
    assert.deepEqual(JSON.parse(d.body), { message: 'get h9l-missing: no such volume' });
    assert.equal((await raw('DELETE', '/v1.41/volumes/h9l-missing?force=1')).status, 204);
    await dockerFails(['volume', 'inspect', 'h9l-missing'], /^Error: No such volume: h9l-missing$/m);
    await dockerFails(['volume', 'rm', 'h9l-missing'], 'Error: No such volume: h9l-missing\n');
    assert.equal(await dockerOk(['volume', 'rm', '-f', 'h9l-missing']), 'h9l-missing\n');
  });

  it('-o type=tmpfs: the options are kept and shown; an unused tmpfs volume is not mounted', async () => {
    await dockerOk(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=64m', 'h9l-tmp']);
    const [v] = JSON.parse(await dockerOk(['volume', 'inspect', 'h9l-tmp']));
    assert.deepEqual(v.Options, { device: 'tmpfs', o: 'size=64m', type: 'tmpfs' });
    assert.deepEqual(mountsUnder(T), []);
    await dockerOk(['volume', 'rm', 'h9l-tmp']);
  });

  it('prune removes every unused volume (API 1.41), or those the label filter selects, with the space reclaimed', async () => {
    await dockerOk(['volume', 'create', '--label', 'h9l-keep', 'h9l-p1']);
    await dockerOk(['volume', 'create', 'h9l-p2']);
    writeFileSync(join(dataRoot(), 'volumes', 'h9l-p2', '_data', 'blob'), Buffer.alloc(2048, 1));
    assert.equal(await dockerOk(['volume', 'prune', '-f', '--filter', 'label!=h9l-keep']), 'Deleted Volumes:\nh9l-p2\n\nTotal reclaimed space: 2.048kB\n');
    assert.deepEqual(await names(), ['h9l-p1']);
    const r = await raw('POST', '/v1.41/volumes/prune');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { VolumesDeleted: ['h9l-p1'], SpaceReclaimed: 0 });
    assert.equal(await dockerOk(['volume', 'prune', '-f']), 'Total reclaimed space: 0B\n');
    const bad = await raw('POST', `/volumes/prune?filters=${encodeURIComponent('{"dangling":["true"]}')}`);
    assert.equal(bad.status, 400);
    assert.deepEqual(JSON.parse(bad.body), { message: 'Invalid filter \'dangling\'' });
  });

  it('the Python SDK: create with options and labels, get, list with filters, remove, prune, NotFound', async () => {
    const out = await python(`
v = c.volumes.create(name='h9l-py', driver='local', driver_opts={'type': 'tmpfs', 'device': 'tmpfs', 'o': 'size=8m'}, labels={'h9l': 'py'})
print(json.dumps(v.attrs))
print(c.volumes.get('h9l-py').name)
print([x.name for x in c.volumes.list(filters={'label': 'h9l=py'})])
c.volumes.create(name='h9l-py2')
print(sorted(x.name for x in c.volumes.list()))
c.volumes.get('h9l-py').remove()
try:
    c.volumes.get('h9l-py')
except docker.errors.NotFound as e:
    print('NotFound', e.explanation)
print(json.dumps(c.volumes.prune()))
print(json.dumps(c.api.volumes()))
`);
    const lines = out.trim().split('\n');
    const attrs = JSON.parse(lines[0]!);
    assert.equal(attrs.Name, 'h9l-py');
    assert.deepEqual(attrs.Labels, { h9l: 'py' });
    assert.deepEqual(attrs.Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=8m' });
    assert.equal(lines[1], 'h9l-py');
    assert.equal(lines[2], "['h9l-py']");
    assert.equal(lines[3], "['h9l-py', 'h9l-py2']");
    assert.equal(lines[4], 'NotFound get h9l-py: no such volume');
    assert.deepEqual(JSON.parse(lines[5]!), { VolumesDeleted: ['h9l-py2'], SpaceReclaimed: 0 });
    assert.deepEqual(JSON.parse(lines[6]!), { Volumes: [], Warnings: null });
  });

  it('a volume a container uses (a reference taken by container create) survives a restart: rm refuses, prune keeps it, its tmpfs is mounted', async () => {
    await dockerOk(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=4m', 'h9l-used']);
    await stopDaemon();
    // what container create does, through the engine's interface, on berthd's data root
    const s = await VolumeService.open(dataRoot());
    const data = join(dataRoot(), 'volumes', 'h9l-used', '_data');
    await s.prepareMounts(CID, [{ type: 'volume', destination: '/data', source: 'h9l-used', rw: true, propagation: '' }]);
    assert.deepEqual(mountsUnder(T), [data]);
    await startDaemon();
    await dockerFails(['volume', 'rm', 'h9l-used'], `Error response from daemon: remove h9l-used: volume is in use - [${CID}]\n`);
    const r = await raw('DELETE', '/v1.41/volumes/h9l-used?force=true');
    assert.equal(r.status, 409, 'force does not remove a volume in use');
    assert.deepEqual(JSON.parse(r.body), { message: `remove h9l-used: volume is in use - [${CID}]` });
    assert.deepEqual(await names(['-f', 'dangling=false']), ['h9l-used']);
    assert.deepEqual(await names(['-f', 'dangling=true']), []);
    assert.equal(await dockerOk(['volume', 'prune', '-f']), 'Total reclaimed space: 0B\n');
    assert.deepEqual(mountsUnder(T), [data], 'berthd\'s start keeps the mount of a volume in use');
    await stopDaemon();
    const s2 = await VolumeService.open(dataRoot());
    await s2.releaseMounts(CID, false);
    assert.deepEqual(mountsUnder(T), [], 'released: unmounted');
    await startDaemon();
    assert.equal(await dockerOk(['volume', 'rm', 'h9l-used']), 'h9l-used\n');
    assert.deepEqual(await names(), []);
  });
});
