// docker exec's request decoding: ExecConfig fields (Go's case-insensitive names, types checked
// with the field named) and the detach keys in docker's term.ToBytes notation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { execConfig } from '../../src/api/router/exec.ts';
import { parseDetachKeys } from '../../src/engine/containers/exec.ts';
import { InvalidParameterError } from '../../src/engine/errors.ts';

describe('exec: ExecConfig decoding', () => {
  it('takes docker\'s fields, and lower-cased names as Go\'s JSON does (the Python SDK sends detachKeys)', () => {
    assert.deepEqual(execConfig({ Cmd: ['sh'], Tty: true, detachKeys: 'ctrl-x,x', user: 'nobody', Unknown: 1 }),
      { Cmd: ['sh'], Tty: true, DetachKeys: 'ctrl-x,x', User: 'nobody' });
    assert.deepEqual(execConfig({ Cmd: null, Env: null }), {});
  });

  it('names the field of a wrong type', () => {
    assert.throws(() => execConfig({ Cmd: 'sh' }), (e: Error) => e instanceof InvalidParameterError && /^Cmd: want an array of strings/.test(e.message));
    assert.throws(() => execConfig({ Cmd: ['sh', 2] }), /^InvalidParameterError: Cmd\[1\]: want a string, got 2$/);
    assert.throws(() => execConfig({ Privileged: 'yes' }), /Privileged: want a boolean, got "yes"/);
  });
});

describe('exec: detach keys', () => {
  it('ctrl-p,ctrl-q by default; ctrl-<letter or @[\\]^_> and single characters', () => {
    assert.deepEqual([...parseDetachKeys('')], [0x10, 0x11]);
    assert.deepEqual([...parseDetachKeys('ctrl-x,x')], [0x18, 0x78]);
    assert.deepEqual([...parseDetachKeys('ctrl-@,ctrl-[,ctrl-_,CTRL-A')], [0, 0x1b, 0x1f, 1]);
  });

  it('refuses anything else, saying what it wants', () => {
    assert.throws(() => parseDetachKeys('ctrl-1'), /DetachKeys: invalid key "ctrl-1": want ctrl-/);
    assert.throws(() => parseDetachKeys('ab'), /DetachKeys: invalid key "ab"/);
  });
});
