// berthd's Engine API as real clients use it: Debian's docker CLI 20.10 (/usr/bin/docker, API
// 1.41) and Docker SDK for Python (/usr/bin/python3's `docker`), plus raw HTTP on the socket for
// the edge cases, against a berthd (dist/berthd.js) on a private socket, data root and exec root,
// with images from Debian's docker-registry on 127.0.0.1. The daemon is stopped at the end
// (SIGTERM: exit 0, socket and pid file gone) and its directories removed.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { runCommand, show, type CommandResult } from '../fixtures/busybox.ts';
import { buildImage, pushImage, type BuiltImage } from '../fixtures/images.ts';
import { LocalRegistry, tarOf } from '../fixtures/registry.ts';

const BERTHD = fileURLToPath(new URL('../../dist/berthd.js', import.meta.url));
const DOCKER = '/usr/bin/docker'; // Debian's 20.10 client, not /usr/local/bin/docker
const PYTHON = '/usr/bin/python3'; // Debian's, with python3-docker

const reg = new LocalRegistry();
/** behind htpasswd Basic auth: pulls need the client's X-Registry-Auth */
const authReg = new LocalRegistry();
const USER = 'h9f-user';
const PASS = 'h9f-pass word';
let T = '';
let sock = '';
let daemon: ChildProcess | undefined;
let daemonLog = '';
let app: BuiltImage;
let other: BuiltImage;
const appRef = (): string => `${reg.domain}/h9f/app:1`;

const env = (): NodeJS.ProcessEnv => ({ DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(T, 'docker-config') });

function docker(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  return runCommand(DOCKER, args, { env: env(), label: `docker ${args.join(' ')}`, timeoutMs: opts.timeoutMs ?? 60_000, ...(opts.input !== undefined && { input: opts.input }) });
}

async function dockerOk(args: string[]): Promise<string> {
  const r = await docker(args);
  assert.equal(r.code, 0, `${show(r)}\n--- berthd log ---\n${daemonLog.slice(-3000)}`);
  return r.stdout;
}

function python(script: string): Promise<CommandResult> {
  return runCommand(PYTHON, ['-c', script], { env: env(), label: 'python3 docker SDK', timeoutMs: 60_000 });
}

interface RawAnswer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function raw(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, method, path, headers: { ...headers, ...(body !== undefined && { 'Content-Length': Buffer.byteLength(body) }) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function startDaemon(extra: string[] = []): ChildProcess {
  const p = spawn(process.execPath, [BERTHD, '-H', `unix://${sock}`, '--data-root', join(T, 'data'), '--exec-root', join(T, 'exec'),
    '--config-file', join(T, 'daemon.json'), ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderr!.setEncoding('utf8').on('data', (d: string) => { daemonLog = (daemonLog + d).slice(-20_000); });
  return p;
}

async function waitForPing(p: ChildProcess): Promise<void> {
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

async function stopDaemon(p: ChildProcess): Promise<number | null> {
  if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
  const code = await exited;
  clearTimeout(t);
  return code;
}

const layerTar = (name: string, text: string): Promise<Buffer> => tarOf(async (w) => {
  await w.add({ path: 'h9f/', type: 'dir', mode: 0o755 });
  await w.add({ path: `h9f/${name}`, type: 'file', mode: 0o644 }, Buffer.from(text.repeat(200)));
});

describe('berthd: image and system endpoints for the docker CLI, the Python SDK and raw HTTP', () => {
  before(async () => {
    if (!existsSync(BERTHD)) throw new Error(`${BERTHD} is not built: run npm run build`);
    await reg.start();
    app = buildImage({ tars: [await layerTar('one', 'first layer\n'), await layerTar('two', 'second layer\n')], config: { Cmd: ['/bin/sh'], Labels: { h9f: 'app' } } });
    other = buildImage({ tars: [await layerTar('other', 'another image\n')], config: { Cmd: ['/bin/true'] } });
    await pushImage(reg, 'h9f/app', '1', app);
    await pushImage(reg, 'h9f/other', 'latest', other);
    T = mkdtempSync(join(tmpdir(), 'h9f-berthd-'));
    writeFileSync(join(T, 'htpasswd'), execFileSync('htpasswd', ['-Bbn', USER, PASS]));
    await authReg.start({ auth: ['htpasswd:', '  realm: h9f', `  path: ${join(T, 'htpasswd')}`] });
    authReg.authorization = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;
    await pushImage(authReg, 'h9f/private', '1', other);
    sock = join(T, 'berthd.sock');
    writeFileSync(join(T, 'daemon.json'), '{}\n');
    daemon = startDaemon();
    await waitForPing(daemon);
  });

  after(async () => {
    try {
      if (daemon) {
        const code = await stopDaemon(daemon);
        assert.equal(code, 0, `berthd exit on SIGTERM\n${daemonLog}`);
        assert.equal(existsSync(sock), false, 'the socket is removed');
        assert.equal(existsSync(join(T, 'exec', 'berthd.pid')), false, 'the pid file is removed');
        assert.match(daemonLog, /Daemon shutdown complete/);
      }
    } finally {
      await authReg.stop();
      if (T) rmSync(T, { recursive: true, force: true });
      await reg.stop();
    }
  });

  it('serves /_ping (GET and HEAD) with docker\'s headers, on a 0660 socket', async () => {
    assert.equal(statSync(sock).mode & 0o777, 0o660);
    for (const method of ['GET', 'HEAD']) {
      const r = await raw(method, '/_ping');
      assert.equal(r.status, 200, method);
      assert.equal(r.headers['api-version'], '1.41');
      assert.equal(r.headers['docker-experimental'], 'false');
      assert.equal(r.headers.ostype, 'linux');
      assert.match(String(r.headers.server), /^berth\//);
      assert.equal(r.body, method === 'GET' ? 'OK' : '');
    }
  });

  it('takes /v1.12 to /v1.41 and unversioned paths; refuses newer and older versions with dockerd\'s message', async () => {
    for (const p of ['/version', '/v1.41/version', '/v1.40/version', '/v1.12/version']) {
      const r = await raw('GET', p);
      assert.equal(r.status, 200, p);
      assert.equal(JSON.parse(r.body).ApiVersion, '1.41');
    }
    const newer = await raw('GET', '/v1.42/version');
    assert.equal(newer.status, 400);
    assert.deepEqual(JSON.parse(newer.body), { message: 'client version 1.42 is too new. Maximum supported API version is 1.41' });
    const older = await raw('GET', '/v1.11/images/json');
    assert.equal(older.status, 400);
    assert.match(JSON.parse(older.body).message, /^client version 1\.11 is too old\. Minimum supported API version is 1\.12/);
  });

  it('answers an unknown route with 404 {"message":"page not found"}', async () => {
    for (const [m, p] of [['GET', '/nope'], ['GET', '/v1.41/images/x/nope'], ['PUT', '/images/json']]) {
      const r = await raw(m!, p!);
      assert.equal(r.status, 404, `${m} ${p}`);
      assert.deepEqual(JSON.parse(r.body), { message: 'page not found' });
    }
  });

  it('answers a malformed JSON body with 400 and a message saying so', async () => {
    const r = await raw('POST', '/v1.41/auth', '{"username": "u", ', { 'Content-Type': 'application/json' });
    assert.equal(r.status, 400, r.body);
    assert.match(JSON.parse(r.body).message, /^malformed JSON request body: /);
    const notObject = await raw('POST', '/auth', '[1]', { 'Content-Type': 'application/json' });
    assert.equal(notObject.status, 400);
    assert.match(JSON.parse(notObject.body).message, /want a JSON object, got an array/);
  });

  it('answers a missing image with 404 "No such image: x:latest", through the CLI too', async () => {
    const r = await raw('GET', '/v1.41/images/x/json');
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(r.body), { message: 'No such image: x:latest' });
    const del = await raw('DELETE', '/images/h9f-missing:2');
    assert.equal(del.status, 404);
    assert.deepEqual(JSON.parse(del.body), { message: 'No such image: h9f-missing:2' });
    const cli = await docker(['image', 'inspect', 'x']);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /No such image: x/);
  });

  it('docker version and docker info report berthd with real values', async () => {
    const v = JSON.parse(await dockerOk(['version', '--format', '{{json .Server}}']));
    assert.equal(v.ApiVersion, '1.41');
    assert.equal(v.MinAPIVersion, '1.12');
    assert.equal(v.Os, 'linux');
    assert.equal(v.Components[0].Name, 'Engine');
    assert.match(v.GoVersion, /^node v20/);
    const info = JSON.parse(await dockerOk(['info', '--format', '{{json .}}']));
    assert.equal(info.DockerRootDir, join(T, 'data'));
    assert.equal(info.Driver, 'overlay');
    assert.equal(info.CgroupDriver, 'cgroupfs');
    assert.ok(['1', '2'].includes(info.CgroupVersion), info.CgroupVersion);
    assert.equal(info.NCPU, availableParallelism());
    assert.equal(info.OSType, 'linux');
    assert.equal(info.Containers, 0);
    assert.equal(info.DefaultRuntime, 'berth-oci');
    assert.ok(info.MemTotal > 0);
    const text = await dockerOk(['info']);
    assert.match(text, /Storage Driver: overlay/);
    assert.match(text, new RegExp(`Docker Root Dir: ${join(T, 'data')}`));
  });

  it('docker pull shows docker\'s progress lines and the image appears in docker images', async () => {
    const out = await dockerOk(['pull', appRef()]);
    const lines = out.trim().split('\n');
    assert.equal(lines[0], '1: Pulling from h9f/app');
    for (const l of app.layers) assert.match(out, new RegExp(`${l.digest.slice(7, 19)}: Pull complete`));
    assert.match(out, new RegExp(`Digest: ${app.manifest.digest}`));
    assert.match(out, new RegExp(`Status: Downloaded newer image for ${appRef().replace(/\./g, '\\.')}`));
    assert.equal(lines.at(-1), appRef());
    const again = await dockerOk(['pull', appRef()]);
    assert.match(again, /Status: Image is up to date for /);
    const images = await dockerOk(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    assert.match(images, new RegExp(`^${reg.domain}/h9f/app:1 ${app.config.digest.slice(7, 19)}$`, 'm'));
    const n = JSON.parse(await dockerOk(['info', '--format', '{{json .Images}}']));
    assert.equal(n, 1);
  });

  it('a pull of a tag the registry lacks fails with 404 before any progress', async () => {
    const r = await raw('POST', `/v1.41/images/create?fromImage=${encodeURIComponent(`${reg.domain}/h9f/app`)}&tag=nope`);
    assert.equal(r.status, 404, r.body);
    assert.match(JSON.parse(r.body).message, /manifest|not found|unknown/i);
    const cli = await docker(['pull', `${reg.domain}/h9f/app:nope`]);
    assert.equal(cli.code, 1, show(cli));
    assert.match(cli.stderr, /Error response from daemon: /);
  });

  it('docker tag, image inspect, history, rmi', async () => {
    await dockerOk(['tag', appRef(), 'h9f-local/app:v2']);
    const inspect = JSON.parse(await dockerOk(['image', 'inspect', 'h9f-local/app:v2']));
    assert.equal(inspect[0].Id, app.config.digest);
    assert.deepEqual(inspect[0].RepoTags.sort(), [appRef(), 'h9f-local/app:v2'].sort());
    assert.deepEqual(inspect[0].Config.Labels, { h9f: 'app' });
    const fmt = await dockerOk(['inspect', '--format', '{{.Id}}', 'h9f-local/app:v2']);
    assert.equal(fmt.trim(), app.config.digest);
    const hist = await dockerOk(['history', '--format', '{{.ID}} {{.Size}}', 'h9f-local/app:v2']);
    assert.equal(hist.trim().split('\n').length, 2, hist);
    const rmi = await dockerOk(['rmi', 'h9f-local/app:v2']);
    assert.equal(rmi.split('\n')[0], 'Untagged: h9f-local/app:v2');
    assert.doesNotMatch(rmi, /Deleted: /, 'the image keeps its other name');
    const gone = await docker(['image', 'inspect', 'h9f-local/app:v2']);
    assert.equal(gone.code, 1);
    // still there under its other name
    await dockerOk(['image', 'inspect', appRef()]);
  });

  it('docker save and load round-trip an image; docker image prune removes a dangling one', async () => {
    const tar = join(T, 'app.tar');
    await dockerOk(['save', '-o', tar, appRef()]);
    assert.ok(statSync(tar).size > 1024);
    const rmi = await dockerOk(['rmi', appRef()]);
    assert.match(rmi, new RegExp(`Deleted: ${app.config.digest}`));
    const loaded = await dockerOk(['load', '-i', tar]);
    // by a short image ID (saved without names), and a name that finds nothing: docker's 404
    const byId = join(T, 'by-id.tar');
    await dockerOk(['save', '-o', byId, app.config.digest.slice(7, 19)]);
    assert.ok(statSync(byId).size > 1024);
    const missing = await raw('GET', '/v1.41/images/get?names=h9f-nothing%3A3');
    assert.equal(missing.status, 404, missing.body);
    assert.deepEqual(JSON.parse(missing.body), { message: 'No such image: h9f-nothing:3' });
    assert.match(loaded, new RegExp(`Loaded image: ${appRef().replace(/\./g, '\\.')}`));
    await dockerOk(['image', 'inspect', appRef()]);
    // a dangling image: pull other, then move its only name away by tagging app over it
    await dockerOk(['pull', `${reg.domain}/h9f/other`]);
    await dockerOk(['tag', appRef(), `${reg.domain}/h9f/other:latest`]);
    const dangling = await dockerOk(['images', '--filter', 'dangling=true', '--format', '{{.ID}}']);
    assert.equal(dangling.trim(), other.config.digest.slice(7, 19));
    const pruned = await dockerOk(['image', 'prune', '-f']);
    assert.match(pruned, new RegExp(`deleted: ${other.config.digest}`));
    assert.match(pruned, /Total reclaimed space: /);
    assert.equal((await dockerOk(['images', '--filter', 'dangling=true', '-q'])).trim(), '');
    await dockerOk(['rmi', `${reg.domain}/h9f/other:latest`]);
  });

  it('docker import of a rootfs tarball makes an image', async () => {
    const rootfs = await tarOf(async (w) => {
      await w.add({ path: 'etc/', type: 'dir', mode: 0o755 });
      await w.add({ path: 'etc/h9f', type: 'file', mode: 0o644 }, Buffer.from('imported\n'));
    });
    const file = join(T, 'rootfs.tar');
    writeFileSync(file, rootfs);
    const out = await dockerOk(['import', '--change', 'CMD ["/bin/h9f"]', file, 'h9f-imported:1']);
    assert.match(out.trim(), /^sha256:[0-9a-f]{64}$/);
    const inspect = JSON.parse(await dockerOk(['image', 'inspect', 'h9f-imported:1']));
    assert.equal(inspect[0].Id, out.trim());
    assert.deepEqual(inspect[0].Config.Cmd, ['/bin/h9f']);
    await dockerOk(['rmi', 'h9f-imported:1']);
  });

  it('docker push of a retagged image to the registry, then a pull of it by another name', async () => {
    await dockerOk(['tag', appRef(), `${reg.domain}/h9f/pushed:7`]);
    const out = await dockerOk(['push', `${reg.domain}/h9f/pushed:7`]);
    assert.match(out, new RegExp(`The push refers to repository \\[${reg.domain.replace(/\./g, '\\.')}/h9f/pushed\\]`));
    assert.match(out, new RegExp(`7: digest: sha256:[0-9a-f]{64} size: \\d+`));
    const r = await fetch(`${reg.url}/v2/h9f/pushed/manifests/7`, { method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(r.status, 200);
    await dockerOk(['rmi', `${reg.domain}/h9f/pushed:7`]);
    const missing = await docker(['push', `${reg.domain}/h9f/never:1`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /An image does not exist locally with the tag: /);
  });

  it('the Python SDK lists, pulls and gets images', async () => {
    const r = await python(`
import docker, json
c = docker.from_env()
img = c.images.pull(${JSON.stringify(`${reg.domain}/h9f/other`)}, tag='latest')
got = c.images.get(${JSON.stringify(appRef())})
print(json.dumps({
  'pulled': img.id, 'got': got.id, 'labels': got.labels,
  'listed': sorted(t for i in c.images.list() for t in i.tags),
  'ping': c.ping(), 'api': c.version()['ApiVersion'],
}))
try:
  c.images.get('h9f-nothing:9')
except docker.errors.ImageNotFound as e:
  print('notfound', e.explanation)
`);
    assert.equal(r.code, 0, show(r));
    const [json, nf] = r.stdout.trim().split('\n');
    const out = JSON.parse(json!);
    assert.equal(out.pulled, other.config.digest);
    assert.equal(out.got, app.config.digest);
    assert.deepEqual(out.labels, { h9f: 'app' });
    assert.ok(out.listed.includes(appRef()) && out.listed.includes(`${reg.domain}/h9f/other:latest`), out.listed.join(' '));
    assert.equal(out.ping, true);
    assert.equal(out.api, '1.41');
    assert.equal(nf, 'notfound No such image: h9f-nothing:9');
  });

  it('docker login checks credentials through POST /auth; a pull sends them as X-Registry-Auth', async () => {
    const ref = `${authReg.domain}/h9f/private:1`;
    // a registry's 401 is the API's 401, as dockerd answers it: the CLI then wants to log in
    const anonymous = await docker(['pull', ref]);
    assert.equal(anonymous.code, 1, show(anonymous));
    assert.match(anonymous.stderr, /Cannot perform an interactive login from a non TTY device/);
    const raw401pull = await raw('POST', `/images/create?fromImage=${encodeURIComponent(`${authReg.domain}/h9f/private`)}&tag=1`);
    assert.equal(raw401pull.status, 401, raw401pull.body);
    assert.match(JSON.parse(raw401pull.body).message, /unauthorized/);
    const bad = await docker(['login', '-u', USER, '--password-stdin', authReg.domain], { input: 'wrong' });
    assert.equal(bad.code, 1, show(bad));
    assert.match(bad.stderr, /Error response from daemon: .*wrong username or password/);
    const good = await docker(['login', '-u', USER, '--password-stdin', authReg.domain], { input: PASS });
    assert.equal(good.code, 0, show(good));
    assert.match(good.stdout, /Login Succeeded/);
    const pulled = await dockerOk(['pull', ref]);
    assert.match(pulled, /Status: Downloaded newer image for /);
    const raw401 = await raw('POST', '/auth', JSON.stringify({ username: USER, password: 'nope', serveraddress: authReg.domain }));
    assert.equal(raw401.status, 401, raw401.body);
    await dockerOk(['rmi', ref]);
  });

  it('refuses a second daemon on the same socket and roots', async () => {
    const second = startDaemon();
    const code = await new Promise<number | null>((r) => second.once('exit', (c) => r(c)));
    assert.equal(code, 1);
    assert.match(daemonLog, /in use by a running berthd \(pid \d+/);
    // the first one still answers
    assert.equal((await raw('GET', '/_ping')).status, 200);
  });
});
