// src/cli/args.ts: runc-style (urfave/cli + Go flag) command-line parsing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { UsageError, bool, int, list, parseArgs, str } from '../../src/cli/args.ts';
import type { FlagDef } from '../../src/cli/args.ts';

const DEFS: FlagDef[] = [
  { names: ['bundle', 'b'], kind: 'string' },
  { names: ['detach', 'd'], kind: 'bool' },
  { names: ['tty', 't'], kind: 'bool' },
  { names: ['preserve-fds'], kind: 'int' },
  { names: ['env', 'e'], kind: 'list' },
  { names: ['pid-file'], kind: 'string' },
];

function usage(fn: () => unknown, msg: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${String(e)}`);
    if (typeof msg === 'string') assert.equal(e.message, msg);
    else assert.match(e.message, msg);
    return true;
  });
}

describe('parseArgs', () => {
  test('-x and --x are the same flag', () => {
    for (const a of ['-d', '--d', '-detach', '--detach']) {
      const p = parseArgs([a, 'id'], DEFS);
      assert.equal(bool(p, 'detach'), true, a);
      assert.deepEqual(p.rest, ['id']);
    }
  });

  test('a flag is stored under its first name whichever alias was used', () => {
    const p = parseArgs(['-b', '/bundle'], DEFS);
    assert.equal(str(p, 'bundle'), '/bundle');
    assert.equal(str(p, 'b'), undefined);
  });

  test('--x=v and --x v give the same value', () => {
    assert.equal(str(parseArgs(['--bundle=/a'], DEFS), 'bundle'), '/a');
    assert.equal(str(parseArgs(['--bundle', '/a'], DEFS), 'bundle'), '/a');
    assert.equal(str(parseArgs(['-b=/a'], DEFS), 'bundle'), '/a');
  });

  test('--x=v keeps everything after the first "=" (values may contain "=")', () => {
    assert.deepEqual(list(parseArgs(['--env=A=b=c'], DEFS), 'env'), ['A=b=c']);
  });

  test('an empty value is a value: --x= gives ""', () => {
    const p = parseArgs(['--pid-file='], DEFS);
    assert.equal(str(p, 'pid-file'), '');
  });

  test('a value that starts with a dash is taken as the value (Go flag does the same)', () => {
    assert.equal(str(parseArgs(['--bundle', '-weird'], DEFS), 'bundle'), '-weird');
  });

  test('bool --x=false is false, --x=true is true, and bool flags never consume the next argument', () => {
    assert.equal(bool(parseArgs(['--detach=false'], DEFS), 'detach'), false);
    assert.equal(parseArgs(['--detach=false'], DEFS).flags.get('detach'), false, 'stored as false, not absent');
    assert.equal(bool(parseArgs(['--detach=true'], DEFS), 'detach'), true);
    const p = parseArgs(['--detach', 'false'], DEFS);
    assert.equal(bool(p, 'detach'), true);
    assert.deepEqual(p.rest, ['false']);
  });

  test('the last occurrence of a bool wins (-d then --d=false)', () => {
    assert.equal(bool(parseArgs(['-d', '--d=false'], DEFS), 'detach'), false);
  });

  test('an invalid bool value is a usage error', () => {
    usage(() => parseArgs(['--detach=maybe'], DEFS), 'invalid boolean value "maybe" for -detach');
  });

  test('an absent bool is false', () => {
    assert.equal(bool(parseArgs([], DEFS), 'detach'), false);
  });

  test('a missing value at the end is a usage error naming the flag', () => {
    usage(() => parseArgs(['--bundle'], DEFS), 'flag needs an argument: -bundle');
    usage(() => parseArgs(['-b'], DEFS), 'flag needs an argument: -b');
  });

  test('an unknown flag: "flag provided but not defined: -x" (one dash, whatever was typed)', () => {
    usage(() => parseArgs(['-x'], DEFS), 'flag provided but not defined: -x');
    usage(() => parseArgs(['--x'], DEFS), 'flag provided but not defined: -x');
    usage(() => parseArgs(['--x=1'], DEFS), 'flag provided but not defined: -x');
  });

  test('list flags repeat and keep their order', () => {
    const p = parseArgs(['-e', 'A=1', '--env=B=2', '--env', 'C=3', 'id'], DEFS);
    assert.deepEqual(list(p, 'env'), ['A=1', 'B=2', 'C=3']);
    assert.deepEqual(p.rest, ['id']);
  });

  test('a list flag given once is a one-element list; never given is []', () => {
    assert.deepEqual(list(parseArgs(['-e', 'A=1'], DEFS), 'env'), ['A=1']);
    assert.deepEqual(list(parseArgs([], DEFS), 'env'), []);
  });

  test('a repeated string flag: the last one wins', () => {
    assert.equal(str(parseArgs(['-b', '/a', '-b', '/b'], DEFS), 'bundle'), '/b');
  });

  test('flags stop at the first positional, so `exec id sh -c x` keeps -c for the command', () => {
    const p = parseArgs(['-t', 'id', 'sh', '-c', 'echo hi', '--detach'], DEFS);
    assert.deepEqual(p.rest, ['id', 'sh', '-c', 'echo hi', '--detach']);
    assert.equal(bool(p, 'tty'), true);
    assert.equal(bool(p, 'detach'), false, '--detach after the positional is the command\'s');
  });

  test('an unknown flag after the first positional is not an error (it belongs to the command)', () => {
    assert.deepEqual(parseArgs(['id', '-x'], DEFS).rest, ['id', '-x']);
  });

  test('without stopAtPositional, flags and positionals interleave', () => {
    const p = parseArgs(['id', '-d', 'more'], DEFS, false);
    assert.equal(bool(p, 'detach'), true);
    assert.deepEqual(p.rest, ['id', 'more']);
  });

  test('-- ends the flags: everything after it is positional, even flag-looking words', () => {
    const p = parseArgs(['-d', '--', '-t', 'id'], DEFS);
    assert.equal(bool(p, 'detach'), true);
    assert.equal(bool(p, 'tty'), false);
    assert.deepEqual(p.rest, ['-t', 'id']);
  });

  test('-- ends the flags also without stopAtPositional, and is itself dropped', () => {
    const p = parseArgs(['a', '--', '-d', '--'], DEFS, false);
    assert.deepEqual(p.rest, ['a', '-d', '--']);
    assert.equal(bool(p, 'detach'), false);
  });

  test('a lone "-" is a positional (stdin), not a flag', () => {
    assert.deepEqual(parseArgs(['-', '-d'], DEFS).rest, ['-', '-d']);
  });

  test('int flags: decimal and negative integers are accepted; int() converts them', () => {
    assert.equal(int(parseArgs(['--preserve-fds', '3'], DEFS), 'preserve-fds'), 3);
    assert.equal(int(parseArgs(['--preserve-fds=-1'], DEFS), 'preserve-fds'), -1);
  });

  test('zero is a valid int value (not replaced by the default)', () => {
    assert.equal(int(parseArgs(['--preserve-fds=0'], DEFS), 'preserve-fds', 7), 0);
  });

  test('an absent int flag gives the default', () => {
    assert.equal(int(parseArgs([], DEFS), 'preserve-fds', 7), 7);
    assert.equal(int(parseArgs([], DEFS), 'preserve-fds'), 0);
  });

  test('int validation: non-integers are usage errors naming the value and the flag', () => {
    for (const v of ['x', '1.5', '', '3a', ' 3']) {
      usage(() => parseArgs(['--preserve-fds', v], DEFS), `invalid value "${v}" for flag -preserve-fds: not an integer`);
    }
  });

  test('an int flag missing its value is a usage error', () => {
    usage(() => parseArgs(['--preserve-fds'], DEFS), 'flag needs an argument: -preserve-fds');
  });

  test('no arguments: no flags, no rest', () => {
    const p = parseArgs([], DEFS);
    assert.equal(p.flags.size, 0);
    assert.deepEqual(p.rest, []);
  });
});

describe('parseArgs: docker-style combined short flags', () => {
  const D: FlagDef[] = [
    { names: ['all', 'a'], kind: 'bool' },
    { names: ['quiet', 'q'], kind: 'bool' },
    { names: ['format'], kind: 'string' },
  ];
  test('-aq is -a -q', () => {
    const p = parseArgs(['-aq', 'busybox'], D, false);
    assert.equal(bool(p, 'all'), true);
    assert.equal(bool(p, 'quiet'), true);
    assert.deepEqual(p.rest, ['busybox']);
  });
  test('a combination with a letter that is not a boolean flag is refused', () => {
    usage(() => parseArgs(['-ax'], D), 'flag provided but not defined: -ax');
  });
});
