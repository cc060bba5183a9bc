// The API server's pieces without a registry or root: routing and the version prefix, docker's
// filters and X-Registry-Auth decoding, the stdcopy frame, the hijack of an `Upgrade: tcp`
// request (on a real unix socket, with a route added the way attach and exec start will be),
// and daemon.json's rules.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { registryAuthHeader } from '../../src/api/auth.ts';
import { queryFilters } from '../../src/api/http.ts';
import { Router } from '../../src/api/router.ts';
import { ApiServer, parseTarget } from '../../src/api/server.ts';
import { STDERR, STDOUT, hijack, progressText, stdFrame } from '../../src/api/stream.ts';
import { DaemonConfigError, loadDaemonConfig, socketOfHost } from '../../src/cli/daemon-config.ts';
import { Engine } from '../../src/engine/engine.ts';
import { silentLogger } from '../../src/engine/log.ts';

describe('api: routing, decoding, framing', () => {
  it('matches fixed paths before patterns, and {name} takes slashes', () => {
    const r = new Router();
    const hit: string[] = [];
    r.get('/images/json', () => void hit.push('list'));
    r.get('/images/{name}/json', () => void hit.push('inspect'));
    r.delete('/images/{name}', () => void hit.push('delete'));
    assert.equal(r.match('GET', '/images/json')?.route.pattern, '/images/json');
    assert.deepEqual(r.match('GET', '/images/127.0.0.1:5000/a/b:1/json')?.params, { name: '127.0.0.1:5000/a/b:1' });
    assert.deepEqual(r.match('DELETE', '/images/sha256:abc')?.params, { name: 'sha256:abc' });
    assert.equal(r.match('POST', '/images/json'), undefined);
    assert.equal(r.match('GET', '/images//json'), undefined, 'an empty name is no route');
  });

  it('strips the version prefix, refuses versions out of range', () => {
    assert.equal(parseTarget('/v1.41/images/json?all=1').path, '/images/json');
    assert.equal(parseTarget('/v1.24/_ping').apiVersion, '1.24');
    assert.equal(parseTarget('/images/a%2Fb/json').path, '/images/a/b/json');
    assert.throws(() => parseTarget('/v1.43/_ping'), /client version 1\.43 is too new\. Maximum supported API version is 1\.41/);
    assert.throws(() => parseTarget('/v1.9/_ping'), /client version 1\.9 is too old/);
  });

  it('reads both forms of docker filters and refuses malformed ones', () => {
    assert.deepEqual(queryFilters(new URLSearchParams({ filters: '{"dangling":{"true":true},"label":["a=b"]}' })), { dangling: ['true'], label: ['a=b'] });
    assert.deepEqual(queryFilters(new URLSearchParams()), {});
    assert.throws(() => queryFilters(new URLSearchParams({ filters: '{nope' })), /invalid filters .*not JSON/);
    assert.throws(() => queryFilters(new URLSearchParams({ filters: '{"a":1}' })), /"a": want an array of strings/);
  });

  it('decodes X-Registry-Auth in either base64 alphabet; empty or broken is anonymous', () => {
    const enc = (o: unknown, alphabet: 'base64' | 'base64url'): string => Buffer.from(JSON.stringify(o)).toString(alphabet);
    const creds = { username: 'u?>', password: 'p~~~' };
    assert.deepEqual(registryAuthHeader(enc(creds, 'base64url')), creds);
    assert.deepEqual(registryAuthHeader(enc(creds, 'base64')), creds);
    assert.deepEqual(registryAuthHeader(enc({ auth: Buffer.from('x:y:z').toString('base64') }, 'base64')), { username: 'x', password: 'y:z' });
    assert.equal(registryAuthHeader('e30='), undefined);
    assert.equal(registryAuthHeader('!!!'), undefined);
    assert.equal(registryAuthHeader(undefined), undefined);
  });

  it('frames stdcopy chunks with the 8-byte header; progress text as docker draws it', () => {
    assert.deepEqual(stdFrame(STDOUT, Buffer.from('hi')), Buffer.from([1, 0, 0, 0, 0, 0, 0, 2, 0x68, 0x69]));
    assert.deepEqual(stdFrame(STDERR, Buffer.alloc(0x10203)).subarray(0, 8), Buffer.from([2, 0, 0, 0, 0, 1, 2, 3]));
    assert.equal(progressText(12_100_000, 27_650_000), `[${'='.repeat(21)}>${' '.repeat(28)}]   12.1MB/27.65MB`);
  });

  it('daemon.json: unknown keys and a setting given twice are errors; only unix sockets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'h9f-cfg-'));
    try {
      const f = join(dir, 'daemon.json');
      writeFileSync(f, '{"data-root": "/x", "bogus": 1}');
      await assert.rejects(loadDaemonConfig({}, f, true), /don't match any configuration option: bogus/);
      writeFileSync(f, '{"data-root": "/x", "insecure-registries": ["r:5000"], "runtimes": {"runc": {"path": "/usr/sbin/runc"}}}');
      await assert.rejects(loadDaemonConfig({ dataRoot: '/y' }, f, true), /specified both as a flag and in the configuration file .*data-root/);
      const c = await loadDaemonConfig({}, f, true);
      assert.equal(c.dataRoot, '/x');
      assert.deepEqual(c.insecureRegistries, ['r:5000']);
      assert.deepEqual(c.runtimes, { runc: { path: '/usr/sbin/runc' } });
      assert.deepEqual(c.hosts, ['/run/berth/berth.sock']);
      await assert.rejects(loadDaemonConfig({}, join(dir, 'absent.json'), true), DaemonConfigError);
      assert.equal((await loadDaemonConfig({}, join(dir, 'absent.json'), false)).dataRoot, '/var/lib/berth');
      assert.throws(() => socketOfHost('tcp://0.0.0.0:2375'), /unix sockets only/);
      assert.equal(socketOfHost('unix:///tmp/s.sock'), '/tmp/s.sock');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('registry-stall-timeout: from daemon.json, BERTH_REGISTRY_STALL_TIMEOUT over it, 30 s by default; a bad one says where', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'h9j-cfg-'));
    try {
      const f = join(dir, 'daemon.json');
      const absent = join(dir, 'absent.json');
      assert.equal((await loadDaemonConfig({}, absent, false, {})).registryStallTimeoutMs, 30_000);
      writeFileSync(f, '{"registry-stall-timeout": "500ms"}');
      assert.equal((await loadDaemonConfig({}, f, true, {})).registryStallTimeoutMs, 500);
      assert.equal((await loadDaemonConfig({}, f, true, { BERTH_REGISTRY_STALL_TIMEOUT: '2s' })).registryStallTimeoutMs, 2000);
      assert.equal((await loadDaemonConfig({}, absent, false, { BERTH_REGISTRY_STALL_TIMEOUT: '0' })).registryStallTimeoutMs, 0);
      writeFileSync(f, '{"registry-stall-timeout": 1.5}');
      assert.equal((await loadDaemonConfig({}, f, true, {})).registryStallTimeoutMs, 1500);
      await assert.rejects(loadDaemonConfig({}, absent, false, { BERTH_REGISTRY_STALL_TIMEOUT: 'soon' }),
        (e: unknown) => e instanceof DaemonConfigError && /^BERTH_REGISTRY_STALL_TIMEOUT: want a duration such as "30s", "500ms" or a number of seconds, got "soon"$/.test((e as Error).message));
      writeFileSync(f, '{"registry-stall-timeout": true}');
      await assert.rejects(loadDaemonConfig({}, f, true, {}), /daemon\.json: "registry-stall-timeout": want a duration .* got true$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('api: the server on a unix socket', () => {
  let dir = '';
  let server: ApiServer;
  let engine: Engine | undefined;
  let sock = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'h9f-api-'));
    sock = join(dir, 's.sock');
    engine = await Engine.open({
      dataRoot: join(dir, 'data'), execRoot: join(dir, 'exec'), insecureRegistries: [], runtimes: {}, defaultRuntime: 'berth-oci', debug: false,
      // a default bridge and a table of the test's own, removed in after()
      network: { bridge: 'berth-h9f', table: 'berth-h9f' },
    });
    server = new ApiServer(engine, silentLogger);
    // a hijacking route as attach will add one: echo what the client sends as stdout frames
    server.router.post('/h9f/echo', (c) => void c.res.end('not upgraded'), {
      hijack: (c) => {
        const s = hijack(c.socket, c.head);
        s.on('data', (d: Buffer) => s.write(stdFrame(STDOUT, d)));
        s.on('end', () => s.end());
      },
    });
    await server.listen(sock);
  });

  after(async () => {
    await server.close();
    await engine?.close();
    spawnSync('ip', ['link', 'del', 'berth-h9f']);
    spawnSync('nft', ['delete', 'table', 'inet', 'berth-h9f']);
    rmSync(dir, { recursive: true, force: true });
  });

  const exchange = (text: string, send?: string): Promise<Buffer> => new Promise((resolve, reject) => {
    const s = connect(sock);
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      if (send !== undefined && all.includes('\r\n\r\n') && all.length > all.indexOf('\r\n\r\n') + 4) s.end();
    });
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    s.write(text);
    if (send === undefined) s.end();
  });

  it('hijacks an Upgrade: tcp request with dockerd\'s 101 answer and carries bytes both ways', async () => {
    const out = await exchange('POST /v1.41/h9f/echo HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello', 'hello');
    const head = 'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n';
    assert.equal(out.subarray(0, head.length).toString(), head);
    assert.deepEqual(out.subarray(head.length), stdFrame(STDOUT, Buffer.from('hello')));
  });

  it('answers an upgrade to an unknown route with 404 page not found', async () => {
    const out = (await exchange('POST /v1.41/nope HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')).toString();
    assert.match(out, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(out, /Api-Version: 1\.41\r\n/);
    assert.match(out, /\{"message":"page not found"\}/);
  });
});
