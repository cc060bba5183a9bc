// The mount points of a container with --volumes-from: the inherited ones replaced by the
// container's own at the same destination, image VOLUMEs only where nothing is mounted; docker's
// parseVolumesFrom; Config.Volumes merged with the image's.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { parseVolumesFrom } from '../../src/engine/containers/mounts.ts';
import { InvalidParameterError } from '../../src/engine/errors.ts';
import { mergeImageConfig } from '../../src/engine/spec/create.ts';
import { containerMountPoints, type MountPoint } from '../../src/engine/spec/mounts.ts';

const inherited: MountPoint[] = [
  { type: 'volume', destination: '/data', source: 'a'.repeat(64), anonymous: true, rw: true, propagation: '', noCopy: true },
  { type: 'bind', destination: '/etc/x', source: '/srv/x', rw: true, propagation: 'rprivate', createSource: false },
];

describe('container mount points with --volumes-from', () => {
  test('inherited mounts first, replaced by Binds at the same destination; image VOLUMEs only where nothing is mounted', () => {
    const mps = containerMountPoints({ Binds: ['named:/etc/x:ro'] }, ['/data', '/cache'], inherited);
    assert.deepEqual(mps.map((m) => [m.type, m.destination, m.source, m.rw]), [
      ['volume', '/etc/x', 'named', false],
      ['volume', '/data', 'a'.repeat(64), true],
      ['volume', '/cache', '', true],
    ]);
    assert.equal(mps[1]!.anonymous, true);
    assert.equal(mps[0]!.mode, 'ro');
  });

  test('the container\'s own options still may not name a destination twice', () => {
    assert.throws(() => containerMountPoints({ Binds: ['v1:/d', 'v2:/d'] }, [], inherited), /Duplicate mount point: \/d/);
  });

  test('parseVolumesFrom: CONTAINER[:ro|rw], no propagation or nocopy, not empty (docker\'s messages)', () => {
    assert.deepEqual(parseVolumesFrom('web'), { ref: 'web', rw: true });
    assert.deepEqual(parseVolumesFrom('web:ro'), { ref: 'web', rw: false });
    assert.deepEqual(parseVolumesFrom('web:rw,z'), { ref: 'web', rw: true });
    for (const [spec, msg] of [['', 'volumes-from specification cannot be an empty string'], ['web:rshared', 'invalid mode: rshared'], ['web:nocopy', 'invalid mode: nocopy'], ['web:bogus', 'invalid mode: bogus']]) {
      assert.throws(() => parseVolumesFrom(spec!), (e: Error) => e instanceof InvalidParameterError && e.message === msg, spec);
    }
  });

  test('Config.Volumes (`-v /dst`) merged with the image\'s', () => {
    const c = mergeImageConfig({ Image: 'x', Cmd: ['true'], Volumes: { '/mine': {} } }, { Volumes: { '/data': {} } });
    assert.deepEqual(Object.keys(c.Volumes ?? {}).sort(), ['/data', '/mine']);
    assert.equal(mergeImageConfig({ Image: 'x', Cmd: ['true'] }, {}).Volumes, undefined);
  });
});
