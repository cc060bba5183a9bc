// parseMountOptions (src/runtime/mountopts.ts): config.json mount options → mount(2) flags,
// propagation and data, as runc's parseMountOptions splits them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { parseMountOptions, propagationFlags } from '../../src/runtime/mountopts.ts';
import { MS } from '../../src/runtime/linux.ts';

describe('parseMountOptions', () => {
  test('no options (undefined or empty): zero flags, no propagation, no data, not a bind', () => {
    for (const o of [undefined, []]) {
      assert.deepEqual(parseMountOptions(o, 'tmpfs'), { flags: 0, propagation: 0, data: [], bind: false, tmpcopyup: false });
    }
  });

  test('ro then rw: the later option wins (rw clears MS_RDONLY)', () => {
    assert.equal(parseMountOptions(['ro', 'rw'], 'tmpfs').flags & MS.RDONLY, 0);
  });

  test('rw then ro: the later option wins (read-only)', () => {
    assert.equal(parseMountOptions(['rw', 'ro'], 'tmpfs').flags & MS.RDONLY, MS.RDONLY);
  });

  test('ro, rw, ro toggles in order and leaves unrelated flags alone', () => {
    const o = parseMountOptions(['nosuid', 'ro', 'rw', 'nodev', 'ro'], 'tmpfs');
    assert.equal(o.flags, MS.NOSUID | MS.NODEV | MS.RDONLY);
  });

  test('clearing options undo their setting counterparts (suid, dev, exec, atime, symfollow)', () => {
    const o = parseMountOptions(
      ['nosuid', 'nodev', 'noexec', 'noatime', 'nosymfollow', 'suid', 'dev', 'exec', 'atime', 'symfollow'], 'ext4');
    assert.equal(o.flags, 0);
  });

  test('the default flag words: nosuid|nodev|noexec|relatime|strictatime', () => {
    const o = parseMountOptions(['nosuid', 'nodev', 'noexec', 'relatime', 'strictatime'], 'tmpfs');
    assert.equal(o.flags, MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME | MS.STRICTATIME);
  });

  test('"defaults" changes nothing (clears no flag)', () => {
    assert.equal(parseMountOptions(['ro', 'nosuid', 'defaults'], 'tmpfs').flags, MS.RDONLY | MS.NOSUID);
  });

  test('rbind = MS_BIND|MS_REC and marks the mount as a bind', () => {
    const o = parseMountOptions(['rbind'], 'none');
    assert.equal(o.flags, MS.BIND | MS.REC);
    assert.equal(o.bind, true);
  });

  test('bind = MS_BIND only (not recursive)', () => {
    const o = parseMountOptions(['bind', 'ro'], undefined);
    assert.equal(o.flags, MS.BIND | MS.RDONLY);
    assert.equal(o.flags & MS.REC, 0);
    assert.equal(o.bind, true);
  });

  test('type "bind" with no bind option is a bind mount (MS_BIND, not recursive)', () => {
    const o = parseMountOptions(['ro'], 'bind');
    assert.equal(o.bind, true);
    assert.equal(o.flags, MS.BIND | MS.RDONLY);
  });

  test('type "bind" with rbind stays recursive', () => {
    assert.equal(parseMountOptions(['rbind'], 'bind').flags, MS.BIND | MS.REC);
  });

  test('type "rbind" is a recursive bind', () => {
    assert.equal(parseMountOptions([], 'rbind').flags, MS.BIND | MS.REC);
  });

  test('a non-bind type with no bind option is not a bind', () => {
    assert.equal(parseMountOptions(['ro'], 'proc').bind, false);
    assert.equal(parseMountOptions(['ro'], undefined).bind, false);
  });

  test('propagation options go to propagation, not to flags', () => {
    const cases: Array<[string, number]> = [
      ['private', MS.PRIVATE], ['rprivate', MS.PRIVATE | MS.REC],
      ['shared', MS.SHARED], ['rshared', MS.SHARED | MS.REC],
      ['slave', MS.SLAVE], ['rslave', MS.SLAVE | MS.REC],
      ['unbindable', MS.UNBINDABLE], ['runbindable', MS.UNBINDABLE | MS.REC],
    ];
    for (const [name, want] of cases) {
      const o = parseMountOptions(['bind', name], 'none');
      assert.equal(o.propagation, want, name);
      assert.equal(o.flags, MS.BIND, `${name} leaves flags alone`);
      assert.deepEqual(o.data, []);
    }
  });

  test('the last propagation option wins', () => {
    assert.equal(parseMountOptions(['rshared', 'rprivate'], 'tmpfs').propagation, MS.PRIVATE | MS.REC);
  });

  test('unknown options go to data, in order, with their values untouched', () => {
    const o = parseMountOptions(['nosuid', 'mode=755', 'size=65536k', 'ro', 'uid=0', 'newinstance'], 'tmpfs');
    assert.deepEqual(o.data, ['mode=755', 'size=65536k', 'uid=0', 'newinstance']);
    assert.equal(o.flags, MS.NOSUID | MS.RDONLY);
  });

  test('a data option that looks like a flag with a value (ro=1) is data, not MS_RDONLY', () => {
    const o = parseMountOptions(['ro=1'], 'tmpfs');
    assert.equal(o.flags, 0);
    assert.deepEqual(o.data, ['ro=1']);
  });

  test('option names are case-sensitive: "RO" is data', () => {
    assert.deepEqual(parseMountOptions(['RO'], 'tmpfs'), { flags: 0, propagation: 0, data: ['RO'], bind: false, tmpcopyup: false });
  });

  test('an option named like an Object.prototype member (toString, constructor) is data, not silently dropped', () => {
    const o = parseMountOptions(['toString', 'constructor', 'mode=1777'], 'tmpfs');
    assert.deepEqual(o.data, ['toString', 'constructor', 'mode=1777']);
    assert.equal(o.flags, 0);
  });

  test('unsupported runc extensions throw, naming the option', () => {
    for (const x of ['idmap', 'ridmap', 'rro', 'rrw', 'rnosuid', 'rnodev', 'rnoexec', 'rnoatime']) {
      assert.throws(() => parseMountOptions(['rbind', x], 'bind'), new RegExp(`"${x}" is not supported`), x);
    }
  });
});

describe('propagationFlags', () => {
  test('maps rootfsPropagation names, rejects unknown ones', () => {
    assert.equal(propagationFlags('rslave'), MS.SLAVE | MS.REC);
    assert.equal(propagationFlags('shared'), MS.SHARED);
    assert.throws(() => propagationFlags('rsharedd'), /unknown propagation "rsharedd"/);
  });
});

test('tmpcopyup marks a tmpfs to start with the covered directory\'s contents; on a bind it throws', () => {
  const o = parseMountOptions(['rw', 'nosuid', 'tmpcopyup', 'size=1m'], 'tmpfs');
  assert.equal(o.tmpcopyup, true);
  assert.deepEqual(o.data, ['size=1m'], 'tmpcopyup is not passed to the kernel');
  assert.throws(() => parseMountOptions(['bind', 'tmpcopyup'], 'none'), /tmpfs mounts only/);
});
