// parseReference (src/image/reference.ts): image references parsed and normalised as docker's
// ParseNormalizedNamed + TagNameOnly do, with specific errors for what docker refuses.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  ImageReference, InvalidReferenceError, digestProblem, isInsecureByDefault, isValidDigest, parseReference,
} from '../../src/image/reference.ts';

const HEX = 'a'.repeat(40) + '0123456789abcdef0123456789abcdef'.slice(0, 24);
const SHA = `sha256:${HEX}`;

function parts(r: ImageReference) {
  return { domain: r.domain, path: r.path, tag: r.tag, digest: r.digest };
}

/** Assert parseReference(s) throws an InvalidReferenceError whose message matches `re`. */
function rejects(s: string, re: RegExp): void {
  assert.throws(() => parseReference(s), (e: unknown) => {
    assert.ok(e instanceof InvalidReferenceError, `not an InvalidReferenceError: ${String(e)}`);
    assert.match(e.message, re);
    assert.equal(e.name, 'InvalidReferenceError');
    return true;
  }, `expected ${JSON.stringify(s)} to be rejected`);
}

describe('parseReference: normalisation', () => {
  const cases: Array<[string, string, string]> = [
    // input, full normalised form, familiar form
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['user/repo', 'docker.io/user/repo:latest', 'user/repo:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['index.docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['index.docker.io/user/repo:v1', 'docker.io/user/repo:v1', 'user/repo:v1'],
    ['library/a/b', 'docker.io/library/a/b:latest', 'library/a/b:latest'],
    ['localhost/x', 'localhost/x:latest', 'localhost/x:latest'],
    ['localhost:5000/x', 'localhost:5000/x:latest', 'localhost:5000/x:latest'],
    ['127.0.0.1:5000/ns/name:tag', '127.0.0.1:5000/ns/name:tag', '127.0.0.1:5000/ns/name:tag'],
    ['quay.io/coreos/etcd', 'quay.io/coreos/etcd:latest', 'quay.io/coreos/etcd:latest'],
    ['registry:5000/x', 'registry:5000/x:latest', 'registry:5000/x:latest'],
    ['[::1]:5000/x', '[::1]:5000/x:latest', '[::1]:5000/x:latest'],
    ['[fe80::1]/x:t', '[fe80::1]/x:t', '[fe80::1]/x:t'],
    ['example.com/busybox', 'example.com/busybox:latest', 'example.com/busybox:latest'],
  ];
  for (const [input, full, familiar] of cases) {
    test(`${input} → ${full}`, () => {
      const r = parseReference(input);
      assert.equal(r.toString(), full);
      assert.equal(String(r), full);
      assert.equal(r.familiar(), familiar);
    });
  }

  test('parts of busybox: domain docker.io, path library/busybox, default tag latest, no digest', () => {
    const r = parseReference('busybox');
    assert.deepEqual(parts(r), { domain: 'docker.io', path: 'library/busybox', tag: 'latest', digest: undefined });
    assert.equal(r.repository(), 'docker.io/library/busybox');
    assert.equal(r.familiarName(), 'busybox');
    assert.equal(r.tagDefaulted, true);
  });

  test('an explicit :latest is not flagged as defaulted', () => {
    assert.equal(parseReference('busybox:latest').tagDefaulted, false);
  });

  test('a first component without ".", ":" or uppercase, not localhost, is a namespace on docker.io', () => {
    assert.deepEqual(parts(parseReference('registry/x')),
      { domain: 'docker.io', path: 'registry/x', tag: 'latest', digest: undefined });
  });

  test('uppercase domain allowed (DNS is case-insensitive) and kept as written', () => {
    const r = parseReference('Example.COM:443/app:v2');
    assert.deepEqual(parts(r), { domain: 'Example.COM:443', path: 'app', tag: 'v2', digest: undefined });
  });

  test('a first component with uppercase is taken as a domain, as docker does (Foo/bar)', () => {
    assert.deepEqual(parts(parseReference('Foo/bar')),
      { domain: 'Foo', path: 'bar', tag: 'latest', digest: undefined });
  });

  test('docker.io paths keep their library/ prefix only for one-component names in familiar()', () => {
    assert.equal(parseReference('library/a/b').familiarName(), 'library/a/b');
    assert.equal(parseReference('docker.io/library/x').familiarName(), 'x');
  });

  test('path separators: ".", "_", "__", and runs of "-"', () => {
    for (const p of ['a.b', 'a_b', 'a__b', 'a-b', 'a---b', 'a.b_c__d-e--f', 'x0/y-1.2/z__3']) {
      assert.equal(parseReference(`example.com/${p}`).path, p);
    }
  });

  test('tag grammar: word characters, "." and "-", up to 128, uppercase allowed', () => {
    for (const t of ['v1.2.3', 'Latest', '_x', '1', 'a-b.c_d', 'x'.repeat(128)]) {
      assert.equal(parseReference(`busybox:${t}`).tag, t);
    }
  });
});

describe('parseReference: port vs tag ambiguity', () => {
  test('localhost:5000 with no "/" is the image library/localhost with tag 5000 (docker does the same)', () => {
    assert.deepEqual(parts(parseReference('localhost:5000')),
      { domain: 'docker.io', path: 'library/localhost', tag: '5000', digest: undefined });
  });

  test('host:5000/x: the ":" before "/" is a port, no tag given → latest', () => {
    assert.deepEqual(parts(parseReference('host.example:5000/x')),
      { domain: 'host.example:5000', path: 'x', tag: 'latest', digest: undefined });
  });

  test('host:5000/x:tag@sha256:… keeps domain with port, tag and digest', () => {
    const r = parseReference(`host.example:5000/ns/x:tag@${SHA}`);
    assert.deepEqual(parts(r), { domain: 'host.example:5000', path: 'ns/x', tag: 'tag', digest: SHA });
    assert.equal(r.toString(), `host.example:5000/ns/x:tag@${SHA}`);
    assert.equal(r.tagDefaulted, false);
  });

  test('a non-numeric port is rejected', () => {
    rejects('example.com:http/x', /invalid domain "example\.com:http": invalid port "http"/);
    rejects('example.com:/x', /invalid port ""/);
  });
});

describe('parseReference: digests', () => {
  test('digest only (name@sha256:…): no default tag is added', () => {
    const r = parseReference(`busybox@${SHA}`);
    assert.deepEqual(parts(r), { domain: 'docker.io', path: 'library/busybox', tag: undefined, digest: SHA });
    assert.equal(r.toString(), `docker.io/library/busybox@${SHA}`);
    assert.equal(r.familiar(), `busybox@${SHA}`);
    assert.equal(r.tagDefaulted, false);
  });

  test('name:tag@sha256:… keeps both', () => {
    const r = parseReference(`busybox:1.36@${SHA}`);
    assert.equal(r.tag, '1.36');
    assert.equal(r.digest, SHA);
    assert.equal(r.familiar(), `busybox:1.36@${SHA}`);
  });

  test('sha384 and sha512 of their lengths are accepted', () => {
    assert.equal(parseReference(`x@sha384:${'b'.repeat(96)}`).digest, `sha384:${'b'.repeat(96)}`);
    assert.equal(parseReference(`x@sha512:${'c'.repeat(128)}`).digest, `sha512:${'c'.repeat(128)}`);
  });

  test('a bare digest with no name is rejected', () => {
    rejects(`@${SHA}`, /repository name must have at least one component/);
  });

  test('sha256 with 63 or 65 hex characters is rejected (length)', () => {
    rejects(`busybox@sha256:${HEX.slice(1)}`, /invalid digest .*sha256 digest has 64 hex characters, not 63/);
    rejects(`busybox@sha256:${HEX}0`, /invalid digest .*not 65/);
  });

  test('uppercase hex is rejected (go-digest wants lowercase)', () => {
    rejects(`busybox@sha256:${HEX.toUpperCase()}`, /invalid digest .*must be lowercase hex/);
  });

  test('non-hex, too short, missing algorithm, unknown algorithm, empty, second "@"', () => {
    rejects(`busybox@sha256:${'g'.repeat(64)}`, /invalid digest .*not hexadecimal/);
    rejects('busybox@sha256:abcd', /invalid digest .*shorter than 32/);
    rejects(`busybox@${HEX}`, /invalid digest .*expected algorithm:hex/);
    rejects(`busybox@:${HEX}`, /invalid digest .*expected algorithm:hex/);
    rejects(`busybox@md5:${'a'.repeat(32)}`, /unsupported digest algorithm "md5"/);
    rejects(`busybox@1sha:${HEX}`, /invalid algorithm "1sha"/);
    rejects('busybox@', /invalid digest "": expected algorithm:hex/);
    rejects(`busybox@${SHA}@${SHA}`, /invalid digest/);
  });

  test('digestProblem / isValidDigest for the store to reuse', () => {
    assert.equal(digestProblem(SHA), undefined);
    assert.equal(isValidDigest(SHA), true);
    assert.equal(isValidDigest('sha256:abc'), false);
  });
});

describe('parseReference: rejected names', () => {
  test('empty reference', () => {
    rejects('', /^invalid reference format: repository name must have at least one component$/);
  });

  test('a 64-hex string (an image ID) is refused as a name, in docker\'s words', () => {
    rejects(HEX, /^invalid repository name \([0-9a-f]{64}\), cannot specify 64-byte hexadecimal strings$/);
  });

  test('an image ID written sha256:<id> is refused as a name too (not docker.io/library/sha256:<id>)', () => {
    rejects(`sha256:${HEX}`, /^invalid repository name \(sha256:[0-9a-f]{64}\), cannot specify 64-byte hexadecimal strings$/);
    // a short hex after "sha256:" stays a name with a tag, as docker reads it
    assert.equal(parseReference('sha256:abc').toString(), 'docker.io/library/sha256:abc');
  });

  test('uppercase repository path rejected in docker\'s message style', () => {
    rejects('Busybox', /^invalid reference format: repository name \(library\/Busybox\) must be lowercase$/);
    rejects('user/Repo', /^invalid reference format: repository name \(user\/Repo\) must be lowercase$/);
    rejects('Example.com/Repo:tag', /repository name \(Repo\) must be lowercase/);
  });

  test('double slashes, leading and trailing slashes are empty path components', () => {
    rejects('a//b', /empty path component/);
    rejects('example.com//b', /empty path component/);
    rejects('user/repo/', /empty path component/);
    rejects('/busybox', /empty path component/);
  });

  test('trailing ":" is an empty tag', () => {
    rejects('busybox:', /empty tag after ":"/);
    rejects('localhost:5000/x:', /empty tag/);
  });

  test('bad tags: leading "." or "-", 129 characters, odd characters', () => {
    rejects('busybox:.x', /invalid tag "\.x"/);
    rejects('busybox:-x', /invalid tag/);
    rejects(`busybox:${'x'.repeat(129)}`, /invalid tag/);
    rejects('busybox:a+b', /invalid tag "a\+b"/);
  });

  test('bad path components: separators at the ends, doubled ".", triple "_", other characters', () => {
    for (const p of ['-a', 'a-', 'a..b', 'a___b', 'a._b', '.a', 'a_', 'a b', 'a+b', 'ä']) {
      rejects(`example.com/${p}`, /invalid path component/);
    }
  });

  test('a name alone (":tag") is rejected', () => {
    rejects(':latest', /empty path component|at least one component/);
  });

  test('path of 255 characters accepted, 256 rejected as too long', () => {
    const ok = 'a'.repeat(255);
    assert.equal(parseReference(`example.com/${ok}`).path.length, 255);
    rejects(`example.com/${ok}a`, /repository name must not be more than 255 characters \(256\)/);
  });

  test('the library/ prefix counts toward the limit on docker.io', () => {
    rejects('a'.repeat(250), /must not be more than 255 characters \(258\)/);
  });

  test('bad domains: "_", leading or trailing "-", empty label, unclosed or bad IPv6', () => {
    rejects('my_host.com/x', /invalid domain "my_host\.com": invalid host/);
    rejects('-a.com/x', /invalid domain/);
    rejects('a-.com/x', /invalid domain/);
    rejects('a..com/x', /invalid domain/);
    rejects('[::1/x', /invalid domain "\[::1": unclosed/);
    rejects('[::g]/x', /invalid IPv6 address/);
    rejects('[::1]x/y', /unexpected "x" after the IPv6 address/);
    rejects('::1/x', /invalid domain "::1": empty host/);
  });

  test('a long hostile string is rejected quickly (no regex backtracking blow-up)', () => {
    const t0 = performance.now();
    rejects(`${'a-'.repeat(50_000)}!/x`, /invalid/);
    rejects(`${'a.'.repeat(50_000)}-/x`, /invalid/);
    rejects(`example.com/${'a-'.repeat(50_000)}!`, /invalid/);
    assert.ok(performance.now() - t0 < 1000);
  });
});

describe('isInsecureByDefault', () => {
  test('loopback registries: 127.0.0.0/8, localhost, ::1, with or without a port', () => {
    for (const d of ['127.0.0.1', '127.0.0.1:5000', '127.1.2.3:80', 'localhost', 'localhost:5000', 'LOCALHOST',
      '[::1]', '[::1]:5000', '::1', '[0:0:0:0:0:0:0:1]:5000', '[::ffff:127.0.0.1]:5000']) {
      assert.equal(isInsecureByDefault(d), true, d);
    }
  });

  test('everything else needs configuration', () => {
    for (const d of ['docker.io', '10.0.0.1:5000', '128.0.0.1', '127.0.0.256', '127.0.0', '127.0.0.01',
      'localhost.example.com', '[::2]:5000', '[::ffff:10.0.0.1]', '[nope', 'example.com:5000']) {
      assert.equal(isInsecureByDefault(d), false, d);
    }
  });

  test('works on a parsed reference\'s domain', () => {
    assert.equal(isInsecureByDefault(parseReference('127.0.0.1:5000/app:1').domain), true);
    assert.equal(isInsecureByDefault(parseReference('busybox').domain), false);
  });
});
