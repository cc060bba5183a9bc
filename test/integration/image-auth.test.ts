// Registry credentials end to end: Debian's docker-registry on 127.0.0.1 behind htpasswd Basic
// auth and behind Bearer tokens from the test's own token endpoint (test/fixtures/token-server.ts);
// docker's config.json in a temp DOCKER_CONFIG (never the user's ~/.docker); a credential helper
// of the test's own on PATH as docker-credential-berthtest. No other host is contacted.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';

import { DockerConfig, credentialsFor, dockerCredentials, helperGet, helperList, CredentialHelperError } from '../../src/image/auth/index.ts';
import { RegistryClient, RegistryError, type Credentials } from '../../src/image/registry/client.ts';
import {
  ACCEPT_ALL, MEDIA_TYPE_DOCKER_CONFIG, MEDIA_TYPE_DOCKER_LAYER, MEDIA_TYPE_DOCKER_MANIFEST,
} from '../../src/image/registry/media.ts';
import { pullImage } from '../../src/image/registry/pull.ts';
import { ContentStore } from '../../src/image/store/content.ts';
import { ImageRefs } from '../../src/image/store/refs.ts';
import { berth, berthArgv, stopDaemons } from '../fixtures/berth-cli.ts';
import { LocalRegistry, blob, gz, tarOf, type Blob } from '../fixtures/registry.ts';
import { TokenServer } from '../fixtures/token-server.ts';

const USER = 'alice';
const PASS = 'correct horse';
const REPO = 'test/img';
const REPO2 = 'test/other';

interface Image { config: Blob; layers: Blob[]; manifest: Blob }

async function makeImage(tag: string): Promise<Image> {
  const layers: Blob[] = [];
  const diffIds: string[] = [];
  for (const n of [1, 2]) {
    const tar = await tarOf(async (w) => {
      await w.add({ path: `etc/${tag}-${n}.txt`, type: 'file', mode: 0o644 }, Buffer.from(`layer ${n} of ${tag}\n`));
    });
    diffIds.push(blob(tar).digest); // pull checks the uncompressed layers against these
    layers.push(blob(gz(tar)));
  }
  const config = blob(JSON.stringify({
    architecture: process.arch === 'arm64' ? 'arm64' : 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds }, history: [],
  }));
  const manifest = blob(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA_TYPE_DOCKER_MANIFEST,
    config: { mediaType: MEDIA_TYPE_DOCKER_CONFIG, digest: config.digest, size: config.bytes.length },
    layers: layers.map((l) => ({ mediaType: MEDIA_TYPE_DOCKER_LAYER, digest: l.digest, size: l.bytes.length })),
  }));
  return { config, layers, manifest };
}

async function seed(reg: LocalRegistry, repo: string, img: Image): Promise<void> {
  for (const b of [img.config, ...img.layers]) await reg.pushBlob(repo, b);
  await reg.pushManifest(repo, '1', img.manifest, MEDIA_TYPE_DOCKER_MANIFEST);
}

const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

// A credential helper of the test's own: a JSON file beside it as its keychain, every call logged.
const HELPER_SCRIPT = `#!${process.execPath}
const fs = require('fs'), path = require('path');
const db = path.join(__dirname, 'keychain.json');
const action = process.argv[2];
const input = fs.readFileSync(0, 'utf8');
fs.appendFileSync(path.join(__dirname, 'calls.log'), JSON.stringify({ action, input }) + '\\n');
if (process.env.BERTHTEST_FAIL) { process.stdout.write('keychain is locked\\n'); process.exit(1); }
let keys = {};
try { keys = JSON.parse(fs.readFileSync(db, 'utf8')); } catch {}
const notFound = () => { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); };
if (action === 'get') {
  const c = keys[input.trim()];
  if (!c) notFound();
  process.stdout.write(JSON.stringify({ ServerURL: input.trim(), Username: c.Username, Secret: c.Secret }));
} else if (action === 'store') {
  const c = JSON.parse(input);
  keys[c.ServerURL] = { Username: c.Username, Secret: c.Secret };
  fs.writeFileSync(db, JSON.stringify(keys));
} else if (action === 'erase') {
  if (!keys[input.trim()]) notFound();
  delete keys[input.trim()];
  fs.writeFileSync(db, JSON.stringify(keys));
} else if (action === 'list') {
  process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, v.Username]))));
} else { process.stdout.write('unknown action ' + action); process.exit(1); }
`;

describe('registry credentials: docker config, helpers, login/logout, pull with auth', { timeout: 180_000 }, () => {
  const basicReg = new LocalRegistry();
  const tokens = new TokenServer({ users: { [USER]: PASS, bob: 'bobpass' }, grant: (who, asked) => (who === 'bob' ? [] : who ? asked.actions : []) });
  const tokenReg = new LocalRegistry();
  let img: Image;
  let img2: Image;
  let work = '';
  let helperBin = '';
  let cfgDir = '';
  let n = 0;

  /** A fresh DOCKER_CONFIG dir (with `config` as its config.json if given). */
  async function freshConfig(config?: unknown): Promise<string> {
    cfgDir = join(work, `docker-${++n}`);
    await mkdir(cfgDir, { recursive: true });
    if (config !== undefined) await writeFile(join(cfgDir, 'config.json'), JSON.stringify(config));
    return cfgDir;
  }
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    DOCKER_CONFIG: cfgDir, PATH: `${helperBin}:${process.env.PATH ?? ''}`, BERTH_CLI_SRC: '1', ...extra,
  });
  const cli = (args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}) =>
    berth(join(work, `root-${n}`), args, { env: env(opts.env), timeoutMs: 60_000, ...(opts.input !== undefined && { input: opts.input }) });
  const readConfig = async (): Promise<Record<string, any>> => JSON.parse(await readFile(join(cfgDir, 'config.json'), 'utf8'));
  const keychain = async (): Promise<Record<string, { Username: string; Secret: string }>> => {
    try {
      return JSON.parse(await readFile(join(helperBin, 'keychain.json'), 'utf8'));
    } catch {
      return {};
    }
  };
  async function freshStore(): Promise<{ store: ContentStore; refs: ImageRefs }> {
    const dir = await mkdtemp(join(work, 'store-'));
    return { store: await ContentStore.open(join(dir, 'content')), refs: new ImageRefs(join(dir, 'refs.json')) };
  }
  async function assertEmptyRoot(root: string): Promise<void> {
    const store = await ContentStore.open(join(root, 'content'));
    assert.deepEqual(await store.list(), [], 'no content after a failed pull');
    assert.deepEqual(await new ImageRefs(join(root, 'refs.json')).list(), [], 'no name after a failed pull');
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-auth-'));
    helperBin = join(work, 'bin');
    await mkdir(helperBin);
    await writeFile(join(helperBin, 'docker-credential-berthtest'), HELPER_SCRIPT);
    await chmod(join(helperBin, 'docker-credential-berthtest'), 0o755);
    img = await makeImage('one');
    img2 = await makeImage('two');

    const htpasswd = join(work, 'htpasswd');
    await writeFile(htpasswd, execFileSync('htpasswd', ['-Bbn', USER, PASS]));
    await basicReg.start({ auth: ['htpasswd:', '  realm: berth-test', `  path: ${htpasswd}`] });
    basicReg.authorization = basic(USER, PASS);
    await seed(basicReg, REPO, img);

    await tokens.start();
    await tokenReg.start({ auth: tokens.registryAuth() });
    tokenReg.authorization = `Bearer ${tokens.mint(USER, [REPO, REPO2].map((name) => ({ type: 'repository', name, actions: ['pull', 'push'] })))}`;
    await seed(tokenReg, REPO, img);
    await seed(tokenReg, REPO2, img2);
  });

  after(async () => {
    await stopDaemons(); // before the roots go: each berthd holds its root
    await basicReg.stop();
    await tokenReg.stop();
    await tokens.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  beforeEach(() => {
    tokens.requests.length = 0;
  });

  describe('library: RegistryClient and pullImage with credentialsFor', () => {
    it('pulls from the htpasswd registry with the auths entry of DOCKER_CONFIG, asking the resolver once', async () => {
      const dir = await freshConfig({ auths: { [basicReg.domain]: { auth: Buffer.from(`${USER}:${PASS}`).toString('base64') } }, other: { kept: true } });
      const asked: string[] = [];
      const resolver = dockerCredentials({ configDir: dir });
      const { store, refs } = await freshStore();
      const r = await pullImage(`${basicReg.domain}/${REPO}:1`, store, refs, {
        clientOptions: { credentialsFor: (d) => { asked.push(d); return resolver(d); } },
      });
      assert.equal(r.manifestDigest, img.manifest.digest);
      assert.deepEqual(asked, [basicReg.domain]);
      assert.equal((await store.list()).length, 4);
    });

    it('refuses without credentials and with a wrong password, storing nothing', async () => {
      for (const credentials of [undefined, { username: USER, password: 'wrong' }]) {
        const { store, refs } = await freshStore();
        await assert.rejects(pullImage(`${basicReg.domain}/${REPO}:1`, store, refs, { clientOptions: { ...(credentials && { credentials }), retries: 0 } }),
          (e: unknown) => e instanceof RegistryError && e.status === 401 && /unauthorized/.test(e.message));
        assert.deepEqual(await store.list(), []);
        assert.deepEqual(await refs.list(), []);
      }
    });

    it('Bearer: one token fetch per scope, with Basic credentials and account, however many requests', async () => {
      const client = new RegistryClient(tokenReg.domain, { credentials: { username: USER, password: PASS } });
      const { store, refs } = await freshStore();
      await pullImage(`${tokenReg.domain}/${REPO}:1`, store, refs, { client });
      const scope1 = `repository:${REPO}:pull`;
      assert.equal(tokens.requests.length, 1, JSON.stringify(tokens.requests));
      assert.deepEqual(tokens.requests[0], {
        method: 'GET', scopes: [scope1], service: tokens.service, account: USER, user: USER, grantType: undefined, offline: false, status: 200,
      });
      // Another repository: its own scope, fetched once even for concurrent requests.
      await Promise.all([1, 2, 3].map(() => client.getManifest(REPO2, '1', ACCEPT_ALL)));
      await client.getManifest(REPO, '1', ACCEPT_ALL);
      assert.deepEqual(tokens.requests.map((r) => r.scopes.join(' ')), [scope1, `repository:${REPO2}:pull`]);
    });

    it('Bearer: a wrong password fails at the token endpoint; anonymous and unauthorised users get no access', async () => {
      const cases: Array<[Credentials | undefined, RegExp]> = [
        [{ username: USER, password: 'wrong' }, /token from .*\/token for repository:test\/img:pull: HTTP 401: UNAUTHORIZED: invalid username or password/],
        [undefined, /HTTP 401 \(unauthorized/],
        [{ username: 'bob', password: 'bobpass' }, /HTTP 401 \(unauthorized/],
      ];
      for (const [credentials, re] of cases) {
        const { store, refs } = await freshStore();
        await assert.rejects(pullImage(`${tokenReg.domain}/${REPO}:1`, store, refs, { clientOptions: { ...(credentials && { credentials }), retries: 0 } }), re);
        assert.deepEqual(await store.list(), []);
        assert.deepEqual(await refs.list(), []);
      }
    });

    it('login() gets a refresh token (offline_token); an identity token then pulls through the refresh_token grant', async () => {
      const { identityToken } = await new RegistryClient(tokenReg.domain, { credentials: { username: USER, password: PASS } }).login();
      assert.ok(identityToken, 'the token endpoint issued a refresh token');
      assert.equal(tokens.requests.length, 1);
      assert.deepEqual(tokens.requests[0]!.scopes, [], 'login asks for no scope');
      assert.equal(tokens.requests[0]!.offline, true);
      tokens.requests.length = 0;

      const { store, refs } = await freshStore();
      const client = new RegistryClient(tokenReg.domain, { credentials: { username: USER, password: '', identityToken } });
      await pullImage(`${tokenReg.domain}/${REPO}:1`, store, refs, { client });
      assert.deepEqual(tokens.requests.map((r) => [r.method, r.grantType, r.user, r.scopes.join(' ')]),
        [['POST', 'refresh_token', USER, `repository:${REPO}:pull`]]);

      const bad = new RegistryClient(tokenReg.domain, { credentials: { username: USER, password: '', identityToken: 'forged' }, retries: 0 });
      await assert.rejects(bad.getManifest(REPO, '1', ACCEPT_ALL), /token from .* HTTP 401: UNAUTHORIZED: invalid refresh token/);
    });

    it('login() with a wrong password is a 401 naming the registry', async () => {
      for (const reg of [basicReg, tokenReg]) {
        await assert.rejects(new RegistryClient(reg.domain, { credentials: { username: USER, password: 'nope' } }).login(),
          (e: unknown) => e instanceof RegistryError && e.status === 401 && e.message.startsWith(`login ${reg.domain}: unauthorized: `));
      }
    });
  });

  describe('credential helpers', () => {
    it('get/store/erase/list through docker-credential-berthtest; not found is no credentials', async () => {
      const e = env();
      const server = `${basicReg.domain}`;
      assert.equal(await helperGet('berthtest', server, e), undefined);
      await writeFile(join(helperBin, 'keychain.json'), JSON.stringify({ [server]: { Username: USER, Secret: PASS } }));
      assert.deepEqual(await helperGet('berthtest', server, e), { ServerURL: server, Username: USER, Secret: PASS });
      assert.deepEqual(await helperList('berthtest', e), { [server]: USER });
      await rm(join(helperBin, 'keychain.json'));
      await assert.rejects(helperGet('berthtest', server, { ...e, BERTHTEST_FAIL: '1' }),
        (err: unknown) => err instanceof CredentialHelperError && err.message === `credential helper docker-credential-berthtest get ${server}: keychain is locked`);
      await assert.rejects(helperGet('nosuchhelper', server, e), /docker-credential-nosuchhelper not found on PATH/);
      await assert.rejects(helperGet('../berthtest', server, e), /invalid helper name/);
    });

    it('credentialsFor reads credsStore, and credHelpers[registry] wins over it', async () => {
      await writeFile(join(helperBin, 'keychain.json'), JSON.stringify({ [basicReg.domain]: { Username: USER, Secret: PASS } }));
      let dir = await freshConfig({ credsStore: 'berthtest', auths: { [basicReg.domain]: { auth: Buffer.from('file:user').toString('base64') } } });
      assert.deepEqual(await credentialsFor(basicReg.domain, { configDir: dir, env: env() }), { username: USER, password: PASS });
      dir = await freshConfig({ credsStore: 'nosuchhelper', credHelpers: { [basicReg.domain]: 'berthtest' } });
      assert.deepEqual(await credentialsFor(basicReg.domain, { configDir: dir, env: env() }), { username: USER, password: PASS });
      // an identity token is stored under the user name <token>
      await writeFile(join(helperBin, 'keychain.json'), JSON.stringify({ [basicReg.domain]: { Username: '<token>', Secret: 'refresh-me' } }));
      assert.deepEqual(await credentialsFor(basicReg.domain, { configDir: dir, env: env() }), { username: '', password: '', identityToken: 'refresh-me' });
      await rm(join(helperBin, 'keychain.json'));
      assert.equal(await credentialsFor(basicReg.domain, { configDir: dir, env: env() }), undefined);
    });
  });

  describe('berth login / logout / pull', () => {
    it('login to the htpasswd registry stores base64 in auths (0600, other keys kept), warns, and pull then works; logout removes it', async () => {
      await freshConfig({ currentContext: 'kept', auths: { 'other.example:5000': { auth: Buffer.from('x:y').toString('base64') } } });
      const r = await cli(['login', '-u', USER, '--password-stdin', basicReg.domain], { input: `${PASS}\n` });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'Login Succeeded\n');
      assert.match(r.stderr, new RegExp(`^WARNING! Your password will be stored unencrypted in ${join(cfgDir, 'config.json')}\\.\n`));
      const cfg = await readConfig();
      assert.equal(cfg.currentContext, 'kept');
      assert.deepEqual(cfg.auths[basicReg.domain], { auth: Buffer.from(`${USER}:${PASS}`).toString('base64') });
      assert.ok(cfg.auths['other.example:5000']);
      assert.equal((await stat(join(cfgDir, 'config.json'))).mode & 0o777, 0o600);

      const p = await cli(['pull', `${basicReg.domain}/${REPO}:1`]);
      assert.equal(p.code, 0, p.stderr);
      assert.match(p.stdout, new RegExp(`Digest: ${img.manifest.digest}`));

      const o = await cli(['logout', `https://${basicReg.domain}/`]);
      assert.equal(o.code, 0, o.stderr);
      assert.equal(o.stdout, `Removing login credentials for ${basicReg.domain}\n`);
      const after = await readConfig();
      assert.equal(after.auths[basicReg.domain], undefined);
      assert.ok(after.auths['other.example:5000'], 'other logins kept');
      const again = await cli(['logout', basicReg.domain]);
      assert.equal(again.stdout, `Not logged in to ${basicReg.domain}\n`);
    });

    it('a wrong password: a clear error, nothing stored; pull without login fails and leaves no name or content', async () => {
      await freshConfig();
      const r = await cli(['login', '-u', USER, '-p', 'wrong', basicReg.domain]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^WARNING! Using --password via the CLI is insecure\. Use --password-stdin\.\n/);
      assert.match(r.stderr, new RegExp(`berth: login ${basicReg.domain}: unauthorized: wrong username or password`));
      await assert.rejects(stat(join(cfgDir, 'config.json')), { code: 'ENOENT' });

      for (const reg of [basicReg, tokenReg]) {
        const p = await cli(['pull', `${reg.domain}/${REPO}:1`]);
        assert.equal(p.code, 1);
        assert.match(p.stderr, /^berth: .*401.*unauthorized/m);
        await assertEmptyRoot(join(work, `root-${n}`));
      }
      // stale credentials in the file: refused at pull too
      await freshConfig({ auths: { [tokenReg.domain]: { auth: Buffer.from(`${USER}:stale`).toString('base64') } } });
      const p = await cli(['pull', `${tokenReg.domain}/${REPO}:1`]);
      assert.equal(p.code, 1);
      assert.match(p.stderr, /token from .* HTTP 401: UNAUTHORIZED: invalid username or password/);
      await assertEmptyRoot(join(work, `root-${n}`));
    });

    it('login to the token registry stores the identity token it issues (no password, no warning); pull uses the refresh_token grant', async () => {
      await freshConfig();
      const r = await cli(['login', '--username', USER, '--password-stdin', `http://${tokenReg.domain}`], { input: PASS });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'Login Succeeded\n');
      assert.equal(r.stderr, '');
      const entry = (await readConfig()).auths[tokenReg.domain];
      assert.equal(Buffer.from(entry.auth, 'base64').toString(), `${USER}:`, 'the password is not stored');
      assert.equal(typeof entry.identitytoken, 'string');
      assert.deepEqual(tokens.requests.map((q) => [q.method, q.offline, q.scopes.length]), [['GET', true, 0]]);

      tokens.requests.length = 0;
      const p = await cli(['pull', `${tokenReg.domain}/${REPO2}:1`]);
      assert.equal(p.code, 0, p.stderr);
      assert.match(p.stdout, new RegExp(`Digest: ${img2.manifest.digest}`));
      assert.deepEqual(tokens.requests.map((q) => [q.method, q.grantType, q.scopes.join(' ')]), [['POST', 'refresh_token', `repository:${REPO2}:pull`]]);

      // no -u/-p: the stored credentials are tried first, as docker does
      const again = await cli(['login', tokenReg.domain]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, 'Authenticating with existing credentials...\nLogin Succeeded\n');
    });

    it('usage errors as docker words them; no TTY and no credentials is an error', async () => {
      await freshConfig();
      const a = await cli(['login', '--password-stdin', basicReg.domain], { input: PASS });
      assert.equal(a.code, 2);
      assert.match(a.stderr, /Must provide --username with --password-stdin/);
      const b = await cli(['login', '-u', USER, '-p', PASS, '--password-stdin', basicReg.domain], { input: PASS });
      assert.equal(b.code, 2);
      assert.match(b.stderr, /--password and --password-stdin are mutually exclusive/);
      const c = await cli(['login', basicReg.domain]);
      assert.equal(c.code, 1);
      assert.match(c.stderr, /cannot perform an interactive login from a non TTY device/);
      await assert.rejects(stat(join(cfgDir, 'config.json')), { code: 'ENOENT' });
    });

    it('on a terminal: prompts for the username and, without echo, the password', async () => {
      await freshConfig();
      // util-linux's script gives berth a pty; each answer is typed once its prompt is shown
      const argv = [...berthArgv(), '--root', join(work, `root-${n}`), 'login', basicReg.domain].map((a) => `'${a}'`).join(' ');
      const child = spawn('script', ['-qec', argv, '/dev/null'], { env: { ...process.env, ...env() }, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      const answers: Array<[string, string]> = [['Username: ', `${USER}\r`], ['Password: ', `${PASS}\r`]];
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (answers.length > 0 && out.endsWith(answers[0]![0])) child.stdin.write(answers.shift()![1]);
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await new Promise<number | null>((r) => child.on('close', r));
      clearTimeout(timer);
      assert.equal(code, 0, out);
      assert.match(out, new RegExp(`^Username: ${USER}\r\nPassword: \r\n`), 'the username echoed, the password not');
      assert.ok(!out.includes(PASS), 'the password never shown');
      assert.match(out, /Login Succeeded/);
      assert.deepEqual((await readConfig()).auths[basicReg.domain], { auth: Buffer.from(`${USER}:${PASS}`).toString('base64') });
    });

    it('credsStore: login stores in the helper (an empty auths entry, no warning), pull reads it, logout erases it', async () => {
      await rm(join(helperBin, 'keychain.json'), { force: true });
      await freshConfig({ credsStore: 'berthtest', unknown: [1, 2] });
      const r = await cli(['login', '-u', USER, '--password-stdin', basicReg.domain], { input: PASS });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.deepEqual(await keychain(), { [basicReg.domain]: { Username: USER, Secret: PASS } });
      const cfg = await readConfig();
      assert.deepEqual(cfg.auths, { [basicReg.domain]: {} });
      assert.deepEqual(cfg.unknown, [1, 2]);

      const p = await cli(['pull', `${basicReg.domain}/${REPO}:1`]);
      assert.equal(p.code, 0, p.stderr);

      const o = await cli(['logout', basicReg.domain]);
      assert.equal(o.stdout, `Removing login credentials for ${basicReg.domain}\n`);
      assert.deepEqual(await keychain(), {});
      assert.deepEqual((await readConfig()).auths, {});
      const fail = await cli(['pull', `${basicReg.domain}/${REPO}:1`]);
      assert.equal(fail.code, 1, 'logged out: refused');
    });

    it('credHelpers[registry] for the token registry: the identity token under <token>; a failing helper is reported', async () => {
      await rm(join(helperBin, 'keychain.json'), { force: true });
      await freshConfig({ credHelpers: { [tokenReg.domain]: 'berthtest' } });
      const r = await cli(['login', '-u', USER, '--password-stdin', tokenReg.domain], { input: PASS });
      assert.equal(r.code, 0, r.stderr);
      const k = await keychain();
      assert.equal(k[tokenReg.domain]?.Username, '<token>');
      assert.equal((await DockerConfig.load(cfgDir)).findAuth(tokenReg.domain)?.entry.password, '');

      tokens.requests.length = 0;
      const p = await cli(['pull', `${tokenReg.domain}/${REPO}:1`]);
      assert.equal(p.code, 0, p.stderr);
      assert.deepEqual(tokens.requests.map((q) => [q.method, q.grantType]), [['POST', 'refresh_token']]);

      const locked = await cli(['pull', `${tokenReg.domain}/${REPO2}:1`], { env: { BERTHTEST_FAIL: '1' } });
      assert.equal(locked.code, 1);
      assert.match(locked.stderr, new RegExp(`credentials for ${tokenReg.domain}: credential helper docker-credential-berthtest get ${tokenReg.domain}: keychain is locked`));

      const o = await cli(['logout', tokenReg.domain], { env: { BERTHTEST_FAIL: '1' } });
      assert.equal(o.code, 0);
      assert.match(o.stderr, /WARNING: could not erase credentials: credential helper docker-credential-berthtest erase .*: keychain is locked/);
      const o2 = await cli(['logout', tokenReg.domain]);
      assert.equal(o2.stdout, `Removing login credentials for ${tokenReg.domain}\n`);
      assert.deepEqual(await keychain(), {});
    });
  });
});
