// The pure parts of image archives: --change instructions, archive paths and links, manifest.json.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { applyChanges, splitWords } from '../../src/image/archive/changes.ts';
import { ArchiveError } from '../../src/image/archive/errors.ts';
import { archivePath, blobDigestOf, linkTarget, parseDockerManifest } from '../../src/image/archive/layout.ts';

describe('--change instructions (docker import/commit)', () => {
  it('CMD and ENTRYPOINT: JSON form kept, shell form wrapped in /bin/sh -c', () => {
    assert.deepEqual(applyChanges({}, ['CMD ["a", "b c"]']).Cmd, ['a', 'b c']);
    assert.deepEqual(applyChanges({}, ['cmd echo $HOME']).Cmd, ['/bin/sh', '-c', 'echo $HOME']);
    assert.deepEqual(applyChanges({}, ['CMD [not json']).Cmd, ['/bin/sh', '-c', '[not json'], 'not JSON: the shell form, as docker');
    assert.deepEqual(applyChanges({}, ['ENTRYPOINT ["/bin/x"]']).Entrypoint, ['/bin/x']);
  });

  it('an ENTRYPOINT drops an inherited CMD, not one set by an earlier change', () => {
    assert.equal(applyChanges({ Cmd: ['old'] }, ['ENTRYPOINT ["/e"]']).Cmd, null);
    assert.deepEqual(applyChanges({}, ['CMD ["c"]', 'ENTRYPOINT ["/e"]']).Cmd, ['c']);
  });

  it('ENV and LABEL: k=v pairs with quotes and escapes, the legacy "k v…" form, later values win', () => {
    const c = applyChanges({ Env: ['A=1'] }, ['ENV A=2 B="two words" C=x\\ y', 'ENV D  rest of  line', 'LABEL "a b"=c d=\'e f\'']);
    assert.deepEqual(c.Env, ['A=2', 'B=two words', 'C=x y', 'D=rest of line']);
    assert.deepEqual(c.Labels, { 'a b': 'c', d: 'e f' });
    assert.throws(() => applyChanges({}, ['ENV =x']), /not NAME=VALUE/);
    assert.throws(() => applyChanges({}, ['ENV A']), /needs a value/);
    assert.throws(() => splitWords('a "b', 'w'), /unterminated " quote/);
  });

  it('EXPOSE: ports, protocols and ranges; VOLUME: JSON or words; WORKDIR joins relative paths', () => {
    assert.deepEqual(Object.keys(applyChanges({}, ['EXPOSE 80 53/UDP 8000-8002/tcp']).ExposedPorts!), ['80/tcp', '53/udp', '8000/tcp', '8001/tcp', '8002/tcp']);
    assert.throws(() => applyChanges({}, ['EXPOSE http']), /invalid port "http"/);
    assert.deepEqual(applyChanges({}, ['VOLUME ["/a", "/b c"]']).Volumes, { '/a': {}, '/b c': {} });
    assert.deepEqual(applyChanges({}, ['VOLUME /a /b']).Volumes, { '/a': {}, '/b': {} });
    assert.equal(applyChanges({}, ['WORKDIR app', 'WORKDIR ../srv/./x']).WorkingDir, '/srv/x');
  });

  it('USER, STOPSIGNAL, ONBUILD; anything else is not a change command; the base is not modified', () => {
    const base = { Env: ['A=1'] };
    const c = applyChanges(base, ['USER 1000:1000', 'STOPSIGNAL SIGTERM', 'ONBUILD RUN make']);
    assert.deepEqual([c.User, c.StopSignal, c.OnBuild], ['1000:1000', 'SIGTERM', ['RUN make']]);
    assert.deepEqual(base, { Env: ['A=1'] });
    for (const bad of ['RUN make', 'FROM x', 'COPY a b', '']) assert.throws(() => applyChanges({}, [bad]), ArchiveError, bad);
    assert.throws(() => applyChanges({}, ['STOPSIGNAL $(x)']), /invalid signal/);
  });
});

describe('archive paths', () => {
  it('are made canonical; absolute paths, ".." and NUL are refused', () => {
    assert.equal(archivePath('./blobs//sha256/ab/'), 'blobs/sha256/ab');
    assert.equal(archivePath('./'), '');
    for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'a/../b', 'a\0b']) assert.throws(() => archivePath(bad), ArchiveError, bad);
  });

  it('links resolve inside the archive: symlinks from their directory, hardlinks from the top', () => {
    assert.equal(linkTarget('b/layer.tar', '../a/layer.tar', 'symlink'), 'a/layer.tar');
    assert.equal(linkTarget('b/layer.tar', 'a/layer.tar', 'hardlink'), 'a/layer.tar');
    assert.throws(() => linkTarget('b/layer.tar', '../../etc/shadow', 'symlink'), /points outside the archive/);
    assert.throws(() => linkTarget('b/layer.tar', '/etc/shadow', 'symlink'), /absolute target/);
  });

  it('blob names: sha256 hex only', () => {
    assert.equal(blobDigestOf(`blobs/sha256/${'a'.repeat(64)}`), `sha256:${'a'.repeat(64)}`);
    assert.equal(blobDigestOf('manifest.json'), undefined);
    assert.throws(() => blobDigestOf(`blobs/sha512/${'a'.repeat(128)}`), /sha512 blobs are not supported/);
    assert.throws(() => blobDigestOf('blobs/sha256/XYZ'), /not a sha256 blob name/);
  });

  it('manifest.json: an array of {Config, RepoTags, Layers}, checked field by field', () => {
    assert.deepEqual(parseDockerManifest(Buffer.from('[{"Config":"c.json","RepoTags":null,"Layers":["l/layer.tar"]}]')), [{ Config: 'c.json', RepoTags: null, Layers: ['l/layer.tar'] }]);
    assert.throws(() => parseDockerManifest(Buffer.from('{}')), /want a JSON array/);
    assert.throws(() => parseDockerManifest(Buffer.from('[{"Config":"c","Layers":[1]}]')), /manifest\.json\[0\]\.Layers/);
    assert.throws(() => parseDockerManifest(Buffer.from('[{"Config":"c","Layers":[],"RepoTags":"x"}]')), /manifest\.json\[0\]\.RepoTags/);
    assert.throws(() => parseDockerManifest(Buffer.from('nope')), /manifest\.json: not JSON/);
  });
});
