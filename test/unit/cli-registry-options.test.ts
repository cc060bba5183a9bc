// src/cli/berth/registry-options.ts: which registries berth reaches over plain HTTP.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { DaemonConfigError, insecureFromConfig, registryOptions } from '../../src/cli/berth/registry-options.ts';
import { RegistryClient } from '../../src/image/registry/client.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-daemon-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const config = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('insecure registries', () => {
  test('loopback registries are plain HTTP by default, others HTTPS', () => {
    const opts = registryOptions([], { BERTH_DAEMON_CONFIG: join(dir, 'absent.json') });
    assert.equal(new RegistryClient('127.0.0.1:5000', opts).baseUrl, 'http://127.0.0.1:5000');
    assert.equal(new RegistryClient('localhost:5000', opts).baseUrl, 'http://localhost:5000');
    assert.equal(new RegistryClient('registry.example:5000', opts).baseUrl, 'https://registry.example:5000');
    assert.equal(new RegistryClient('docker.io', opts).baseUrl, 'https://registry-1.docker.io');
  });

  test('--insecure-registry and daemon.json name more, by HOST[:PORT] exactly', () => {
    const file = config('d.json', JSON.stringify({ 'insecure-registries': ['mirror.example:5000'], debug: true }));
    const opts = registryOptions(['other.example'], { BERTH_DAEMON_CONFIG: file });
    assert.equal(new RegistryClient('mirror.example:5000', opts).baseUrl, 'http://mirror.example:5000');
    assert.equal(new RegistryClient('other.example', opts).baseUrl, 'http://other.example');
    assert.equal(new RegistryClient('mirror.example:5001', opts).baseUrl, 'https://mirror.example:5001');
  });

  test('a bad daemon.json or flag is refused, saying where', () => {
    assert.throws(() => insecureFromConfig(config('bad.json', '{')), (e: unknown) => e instanceof DaemonConfigError && /bad\.json: not JSON/.test((e as Error).message));
    assert.throws(() => insecureFromConfig(config('arr.json', '[]')), /want a JSON object/);
    assert.throws(() => insecureFromConfig(config('t.json', '{"insecure-registries": "x"}')), /"insecure-registries": want an array of HOST\[:PORT\] strings/);
    assert.throws(() => insecureFromConfig(config('u.json', '{"insecure-registries": ["http://x"]}')), /want an array/);
    assert.throws(() => registryOptions(['a b'], { BERTH_DAEMON_CONFIG: join(dir, 'absent.json') }), /--insecure-registry "a b": want HOST\[:PORT\]/);
    assert.deepEqual(insecureFromConfig(join(dir, 'absent.json')), []);
  });
  test('17: the stall timeout: 30 s by default, daemon.json "registry-stall-timeout", BERTH_REGISTRY_STALL_TIMEOUT over it', () => {
    const absent = join(dir, 'absent.json');
    assert.equal(registryOptions([], { BERTH_DAEMON_CONFIG: absent }).stallTimeoutMs, 30_000);
    const file = config('stall.json', JSON.stringify({ 'registry-stall-timeout': '2m' }));
    assert.equal(registryOptions([], { BERTH_DAEMON_CONFIG: file }).stallTimeoutMs, 120_000);
    assert.equal(registryOptions([], { BERTH_DAEMON_CONFIG: file, BERTH_REGISTRY_STALL_TIMEOUT: '1.5' }).stallTimeoutMs, 1500);
    assert.equal(registryOptions([], { BERTH_DAEMON_CONFIG: absent, BERTH_REGISTRY_STALL_TIMEOUT: '500ms' }).stallTimeoutMs, 500);
    assert.equal(registryOptions([], { BERTH_DAEMON_CONFIG: absent, BERTH_REGISTRY_STALL_TIMEOUT: '0' }).stallTimeoutMs, 0);
    assert.equal(registryOptions([], { BERTH_DAEMON_CONFIG: config('n.json', '{"registry-stall-timeout": 10}') }).stallTimeoutMs, 10_000);
    assert.throws(() => registryOptions([], { BERTH_DAEMON_CONFIG: config('b.json', '{"registry-stall-timeout": "forever"}') }),
      /b\.json: "registry-stall-timeout": want a duration such as "30s", "500ms" or a number of seconds, got "forever"$/);
  });
});
