// src/image/auth: docker's config.json (parsing, key normalisation, atomic writes keeping unknown
// keys) and credentialsFor over a config file. Temp dirs only: never the user's ~/.docker.
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  DockerConfig, DockerConfigError, INDEX_SERVER, convertToHostname, credentialsFor, dockerConfigDir, eraseCredentials, getCredentials,
  isDockerHub, registryKey, sameRegistry, storeCredentials,
} from '../../src/image/auth/index.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const parse = (o: unknown): DockerConfig => DockerConfig.parse(JSON.stringify(o), '/cfg/config.json');

let work = '';
before(async () => { work = await mkdtemp(join(tmpdir(), 'berth-auth-unit-')); });
after(async () => { await rm(work, { recursive: true, force: true }); });

describe('registry keys as docker files them', () => {
  test('convertToHostname strips a scheme and a path, keeps the port', () => {
    const cases: Array<[string, string]> = [
      ['127.0.0.1:5000', '127.0.0.1:5000'],
      ['https://127.0.0.1:5000', '127.0.0.1:5000'],
      ['http://127.0.0.1:5000/v2/', '127.0.0.1:5000'],
      ['registry.example.com/some/path', 'registry.example.com'],
      ['https://index.docker.io/v1/', 'index.docker.io'],
      ['[::1]:5000', '[::1]:5000'],
    ];
    for (const [input, want] of cases) assert.equal(convertToHostname(input), want, input);
  });

  test('Docker Hub in any spelling is https://index.docker.io/v1/; others by host[:port]', () => {
    for (const hub of ['docker.io', 'index.docker.io', 'registry-1.docker.io', INDEX_SERVER, 'https://index.docker.io', 'https://registry-1.docker.io/v2/']) {
      assert.equal(registryKey(hub), INDEX_SERVER, hub);
      assert.ok(isDockerHub(hub), hub);
    }
    assert.equal(registryKey('https://ghcr.io/'), 'ghcr.io');
    assert.equal(registryKey('localhost:5000'), 'localhost:5000');
    assert.ok(!isDockerHub('docker.io.example.com'));
    assert.ok(sameRegistry('https://127.0.0.1:5000', '127.0.0.1:5000'));
    assert.ok(sameRegistry('docker.io', INDEX_SERVER));
    assert.ok(!sameRegistry('127.0.0.1:5001', '127.0.0.1:5000'));
  });

  test('dockerConfigDir: DOCKER_CONFIG, else ~/.docker', () => {
    assert.equal(dockerConfigDir({ DOCKER_CONFIG: '/x/y', HOME: '/home/u' }), '/x/y');
    assert.equal(dockerConfigDir({ DOCKER_CONFIG: '', HOME: '/home/u' }), '/home/u/.docker');
    assert.equal(dockerConfigDir({ HOME: '/home/u' }), '/home/u/.docker');
  });
});

describe('config.json parsing', () => {
  test('auth is base64 of user:password and wins over username/password; the password may hold colons', () => {
    const cfg = parse({ auths: { 'r:5000': { auth: b64('alice:pa:ss'), username: 'bob', password: 'x', email: 'a@b' } } });
    assert.deepEqual(cfg.findAuth('r:5000'), { key: 'r:5000', entry: { username: 'alice', password: 'pa:ss', email: 'a@b' } });
  });

  test('plain username/password and identitytoken are read too', () => {
    const cfg = parse({ auths: { 'r:5000': { username: 'u', password: 'p' }, 'id:1': { auth: b64('u:'), identitytoken: 'tok' } } });
    assert.deepEqual(cfg.findAuth('r:5000')?.entry, { username: 'u', password: 'p' });
    assert.deepEqual(cfg.findAuth('id:1')?.entry, { username: 'u', password: '', identityToken: 'tok' });
  });

  test('entries written with a scheme match the bare key; the exact key wins', () => {
    const cfg = parse({ auths: { 'https://r:5000': { auth: b64('old:1') }, 'https://index.docker.io/v1/': { auth: b64('hub:2') } } });
    assert.deepEqual(cfg.findAuth('r:5000'), { key: 'https://r:5000', entry: { username: 'old', password: '1' } });
    assert.equal(cfg.findAuth(registryKey('docker.io'))?.entry.username, 'hub');
    assert.equal(cfg.findAuth('r:5001'), undefined);
    const both = parse({ auths: { 'https://r:5000': { auth: b64('old:1') }, 'r:5000': { auth: b64('new:2') } } });
    assert.equal(both.findAuth('r:5000')?.entry.username, 'new');
  });

  test('an empty or missing file is an empty config', async () => {
    assert.deepEqual(DockerConfig.parse('  \n', 'f').authKeys(), []);
    const cfg = await DockerConfig.load(join(work, 'nothing-here'));
    assert.equal(cfg.file, join(work, 'nothing-here', 'config.json'));
    assert.deepEqual(cfg.authKeys(), []);
  });

  test('malformed configs are refused naming the file and the key', () => {
    const bad: Array<[unknown, RegExp]> = [
      [[], /config\.json: not a JSON object/],
      [{ auths: [] }, /"auths" is not an object/],
      [{ auths: { 'r:1': 'x' } }, /auths\["r:1"\]: not an object/],
      [{ auths: { 'r:1': { auth: '%%%' } } }, /auths\["r:1"\]\.auth: not base64$/],
      [{ auths: { 'r:1': { auth: b64('nocolon') } } }, /auths\["r:1"\]\.auth: not base64 of "user:password" \(no colon\)/],
      [{ auths: { 'r:1': { username: 7 } } }, /auths\["r:1"\]\.username: not a string/],
      [{ credsStore: 1 }, /"credsStore" is not a string/],
      [{ credHelpers: { 'r:1': 2 } }, /"credHelpers" is not an object of strings/],
    ];
    for (const [o, re] of bad) {
      assert.throws(() => parse(o), (e: unknown) => e instanceof DockerConfigError && re.test(e.message) && e.message.startsWith('docker config /cfg/config.json'), JSON.stringify(o));
    }
    assert.throws(() => DockerConfig.parse('{', '/cfg/config.json'), /docker config \/cfg\/config\.json: not JSON/);
  });

  test('helperFor: credHelpers for that registry (any spelling), else credsStore, else none', () => {
    const cfg = parse({ credsStore: 'desktop', credHelpers: { 'https://r:5000': 'pass', 'gcr.io': 'gcloud' } });
    assert.equal(cfg.helperFor('r:5000'), 'pass');
    assert.equal(cfg.helperFor('gcr.io'), 'gcloud');
    assert.equal(cfg.helperFor('other:1'), 'desktop');
    assert.equal(parse({ credHelpers: { 'gcr.io': 'gcloud' } }).helperFor('other:1'), undefined);
    assert.equal(parse({ credsStore: '' }).helperFor('other:1'), undefined);
  });
});

describe('config.json writing', () => {
  test('setAuth writes docker\'s form; save keeps unknown keys, is 0600 and leaves no temp file', async () => {
    const dir = join(work, 'w1');
    await mkdir(dir);
    await writeFile(join(dir, 'config.json'), JSON.stringify({
      auths: { 'keep:1': { auth: b64('k:v'), somethingElse: 1 } }, psFormat: 'table {{.ID}}', plugins: { x: { y: 'z' } },
    }), { mode: 0o644 });
    const cfg = await DockerConfig.load(dir);
    cfg.setAuth('r:5000', { username: 'alice', password: 'pw' });
    cfg.setAuth('id:1', { username: 'alice', password: '', identityToken: 'refresh' });
    await cfg.save();
    const written = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(written, {
      auths: { 'keep:1': { auth: b64('k:v'), somethingElse: 1 }, 'r:5000': { auth: b64('alice:pw') }, 'id:1': { auth: b64('alice:'), identitytoken: 'refresh' } },
      psFormat: 'table {{.ID}}', plugins: { x: { y: 'z' } },
    });
    assert.equal((await stat(join(dir, 'config.json'))).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['config.json']);
  });

  test('a new config dir is made 0700; a symlinked config.json is written through to its target', async () => {
    const fresh = await DockerConfig.load(join(work, 'w2', 'sub'));
    fresh.setAuth('r:1', { username: 'a', password: 'b' });
    await fresh.save();
    assert.equal((await stat(join(work, 'w2', 'sub'))).mode & 0o777, 0o700);

    const dir = join(work, 'w3');
    await mkdir(join(dir, 'dotfiles'), { recursive: true });
    await writeFile(join(dir, 'dotfiles', 'docker.json'), '{"auths":{}}');
    await symlink(join(dir, 'dotfiles', 'docker.json'), join(dir, 'config.json'));
    const cfg = await DockerConfig.load(dir);
    cfg.setAuth('r:1', { username: 'a', password: 'b' });
    await cfg.save();
    assert.ok((await lstat(join(dir, 'config.json'))).isSymbolicLink(), 'the link is kept');
    assert.equal(await readlink(join(dir, 'config.json')), join(dir, 'dotfiles', 'docker.json'));
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'dotfiles', 'docker.json'), 'utf8')).auths, { 'r:1': { auth: b64('a:b') } });
  });

  test('storeCredentials / getCredentials / eraseCredentials with the file (every spelling of the registry erased)', async () => {
    const dir = join(work, 'w4');
    await mkdir(dir);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { 'https://r:5000': { auth: b64('old:o') }, 'http://r:5000/v2/': {}, 'x:1': {} } }));
    let cfg = await DockerConfig.load(dir);
    assert.deepEqual(await storeCredentials(cfg, 'r:5000', { username: 'alice', password: 'pw' }), {});
    cfg = await DockerConfig.load(dir);
    assert.deepEqual(await getCredentials(cfg, 'r:5000'), { serverAddress: 'r:5000', username: 'alice', password: 'pw' });
    assert.deepEqual(await credentialsFor('r:5000', { configDir: dir }), { username: 'alice', password: 'pw' });
    assert.deepEqual(await credentialsFor('https://r:5000', { configDir: dir }), { username: 'alice', password: 'pw' });
    assert.equal(await getCredentials(cfg, 'x:1'), undefined, 'an empty entry is no credentials');
    assert.equal(await eraseCredentials(cfg, 'r:5000'), true);
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')).auths, { 'x:1': {} });
    assert.equal(await eraseCredentials(await DockerConfig.load(dir), 'r:5000'), false);
  });

  test('credentialsFor resolves docker.io to the Hub entry, honouring DOCKER_CONFIG in env', async () => {
    const dir = join(work, 'w5');
    await mkdir(dir);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [INDEX_SERVER]: { auth: b64('hubuser:hubpw') } } }));
    assert.deepEqual(await credentialsFor('docker.io', { env: { DOCKER_CONFIG: dir, PATH: process.env.PATH } }), { username: 'hubuser', password: 'hubpw' });
    assert.equal(await credentialsFor('quay.io', { env: { DOCKER_CONFIG: dir } }), undefined);
  });
});
