// The volume service's pure parts: docker's filter semantics and messages, the local driver's
// option checks, names, and the CreatedAt format.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { InvalidParameterError } from '../../src/engine/errors.ts';
import { LIST_FILTERS, PRUNE_FILTERS, matchList, validateFilters } from '../../src/engine/volumes/filters.ts';
import { needsMount, validateOptions } from '../../src/engine/volumes/local.ts';
import type { VolumeMeta } from '../../src/engine/volumes/meta.ts';
import { checkVolumeName, rfc3339Local } from '../../src/engine/volumes/service.ts';

const meta = (name: string, labels: Record<string, string> | null, users = 0): VolumeMeta => ({
  schemaVersion: 1, name, driver: 'local', labels, options: null, createdAt: '', anonymous: false,
  users: Array.from({ length: users }, (_, i) => ({ containerId: String(i), destination: '/d', anonymous: false, rw: true })),
});

test('list filters: label keys and values all must hold, label! excludes, name is a regexp or equal, dangling by references', () => {
  const a = meta('h9l-a', { x: '1', y: '2' });
  const b = meta('h9l-b', null, 1);
  assert.equal(matchList({ label: ['x'] }, a), true);
  assert.equal(matchList({ label: ['x=1', 'y=2'] }, a), true);
  assert.equal(matchList({ label: ['x=2'] }, a), false);
  assert.equal(matchList({ label: ['x'] }, b), false, 'no labels: a label filter never matches');
  assert.equal(matchList({ 'label!': ['x=1'] }, a), false);
  assert.equal(matchList({ 'label!': ['x=9'] }, a), true);
  assert.equal(matchList({ name: ['-a$'] }, a), true);
  assert.equal(matchList({ name: ['(('] }, a), false, 'a bad regexp matches only by equality');
  assert.equal(matchList({ name: ['(('] }, meta('((', null)), true);
  assert.equal(matchList({ dangling: ['true'] }, a), true);
  assert.equal(matchList({ dangling: ['1'] }, b), false);
  assert.equal(matchList({ dangling: ['false'] }, b), true);
  assert.equal(matchList({ driver: ['local'] }, a), true);
  assert.equal(matchList({ driver: ['nfs'] }, a), false);
});

test('filters docker does not take are its errors', () => {
  assert.throws(() => validateFilters({ bogus: ['1'] }, LIST_FILTERS), { message: "Invalid filter 'bogus'" });
  assert.throws(() => validateFilters({ dangling: ['maybe', 'no'] }, LIST_FILTERS), { message: "Invalid filter 'dangling=[maybe no]'" });
  validateFilters({ dangling: ['maybe', 'true'] }, LIST_FILTERS); // docker: ExactMatch("true") wins
  assert.throws(() => validateFilters({ dangling: ['true'] }, PRUNE_FILTERS), { message: "Invalid filter 'dangling'" });
  assert.throws(() => validateFilters({ all: ['true'] }, PRUNE_FILTERS), InvalidParameterError, '`all` is API 1.42');
});

test('local driver options: type/device/o only, each with the ones it needs; size has no quota support', () => {
  validateOptions(null);
  validateOptions({ type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
  assert.throws(() => validateOptions({ foo: 'x' }), { message: 'invalid option: "foo"' });
  assert.throws(() => validateOptions({ size: '1g' }), { message: 'quota size requested but no quota support' });
  assert.throws(() => validateOptions({ device: '/x' }), { message: 'missing required option: "type"' });
  assert.throws(() => validateOptions({ o: 'bind' }), { message: 'missing required option: "device"' });
  assert.equal(needsMount({}), false);
  assert.equal(needsMount({ type: 'none', device: '/x', o: 'bind' }), true);
});

test('names: docker\'s pattern and its two messages', () => {
  checkVolumeName('ab');
  checkVolumeName('a.b_c-d');
  assert.throws(() => checkVolumeName('a'), { message: 'create a: volume name is too short, names should be at least two alphanumeric characters' });
  assert.throws(() => checkVolumeName('_ab'), /^InvalidParameterError: create _ab: "_ab" includes invalid characters/);
  assert.throws(() => checkVolumeName('../x'), InvalidParameterError);
});

test('CreatedAt is RFC 3339 in seconds with the daemon\'s zone', () => {
  const s = rfc3339Local(new Date('2026-01-02T03:04:05.678Z'));
  assert.match(s, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
  assert.equal(Date.parse(s), Date.parse('2026-01-02T03:04:05Z'));
});
