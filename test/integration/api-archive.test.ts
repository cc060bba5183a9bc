// A container's filesystem through berthd, as Debian's docker CLI 20.10 (/usr/bin/docker) and the
// Python SDK drive it: docker cp both ways (files, directories, stdin/stdout tars, stat errors),
// the symlink attacks of CVE-2019-14271 / CVE-2018-15664 (a container's symlink to /etc or /tmp
// must stay inside the container, also while the container swaps a directory for a symlink in a
// loop), docker diff, docker export and docker commit (--change, history, the image runs).
// Nothing is left behind: containers and images removed, daemon stopped, no mount or process.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BerthdHarness, DOCKER } from '../fixtures/berthd.ts';
import { runCommand, show, type CommandResult } from '../fixtures/busybox.ts';
import { waitFor } from '../fixtures/wait.ts';

const bd = new BerthdHarness({ prefix: 'h9o' });
const { docker, dockerOk, runDetached, python, env, http: raw } = bd;
let IMG = '';

/** A shell pipeline with docker pointed at berthd. */
async function shOk(script: string): Promise<string> {
  const r = await runCommand('/bin/sh', ['-c', script], { env: { ...env(), PATH: `/usr/bin:/bin:/usr/sbin:/sbin` }, label: script, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `${show(r)}\n--- berthd log ---\n${bd.log.slice(-3000)}`);
  return r.stdout;
}

/** The content of the container's file `path` (docker cp to stdout, untarred). */
async function catIn(ctr: string, path: string): Promise<CommandResult> {
  return runCommand('/bin/sh', ['-c', `${DOCKER} cp ${ctr}:${path} - | tar -xOf -`], { env: env(), label: `cat ${ctr}:${path}`, timeoutMs: 60_000 });
}

/** Waits until the container's setup script has written /ready. */
async function ready(ctr: string): Promise<void> {
  await waitFor(`${ctr} to be ready`, async () => (await catIn(ctr, '/ready')).stdout === 'ok\n', 15_000, () => bd.log.slice(-2000), 50);
}

describe('berthd: docker cp, diff, export and commit', { timeout: 300_000 }, () => {
  before(async () => {
    await bd.setup();
    IMG = bd.image;
  });

  after(() => bd.teardown());

  it('docker cp copies a file and a directory out and in, to and from tar streams, on running and stopped containers', async () => {
    const id = await runDetached(['--name', 'h9o-cp', IMG, 'sh', '-c', 'echo hello > /hello.txt; mkdir -p /d/sub; echo deep > /d/sub/f; echo ok > /ready; exec sleep 1000']);
    await ready('h9o-cp');
    const out = join(bd.dir, 'out');
    mkdirSync(out);
    // a file into an existing directory, and to a new name
    await dockerOk(['cp', 'h9o-cp:/hello.txt', out]);
    assert.equal(readFileSync(join(out, 'hello.txt'), 'utf8'), 'hello\n');
    await dockerOk(['cp', `${id.slice(0, 12)}:/hello.txt`, join(out, 'renamed')]);
    assert.equal(readFileSync(join(out, 'renamed'), 'utf8'), 'hello\n');
    // a directory recursively
    await dockerOk(['cp', 'h9o-cp:/d', join(out, 'dcopy')]);
    assert.equal(readFileSync(join(out, 'dcopy', 'sub', 'f'), 'utf8'), 'deep\n');
    // a tar on stdout: docker's names (the path's base first)
    const listed = (await shOk(`${DOCKER} cp h9o-cp:/etc - | tar t`)).split('\n').filter(Boolean);
    assert.ok(listed.includes('etc/') && listed.includes('etc/passwd'), listed.join('\n'));
    assert.deepEqual((await shOk(`${DOCKER} cp h9o-cp:/d/. - | tar t`)).split('\n').filter(Boolean).sort(), ['./', './sub/', './sub/f']);
    // a symlink is copied as a symlink (busybox's applets are links to /bin/busybox)
    assert.match(await shOk(`${DOCKER} cp h9o-cp:/bin/ls - | tar tv`), /ls -> \/bin\/busybox/);

    // in: a file, a directory, a tar from stdin
    writeFileSync(join(out, 'in.txt'), 'from the host\n');
    await dockerOk(['cp', join(out, 'in.txt'), 'h9o-cp:/tmp/']);
    assert.equal((await catIn('h9o-cp', '/tmp/in.txt')).stdout, 'from the host\n');
    mkdirSync(join(out, 'tree', 'a', 'b'), { recursive: true });
    writeFileSync(join(out, 'tree', 'a', 'b', 'leaf'), 'leaf\n');
    await dockerOk(['cp', join(out, 'tree'), 'h9o-cp:/newtree']);
    assert.equal((await catIn('h9o-cp', '/newtree/a/b/leaf')).stdout, 'leaf\n');
    await shOk(`tar -C ${join(out, 'tree')} -cf - a | ${DOCKER} cp - h9o-cp:/tmp`);
    assert.equal((await catIn('h9o-cp', '/tmp/a/b/leaf')).stdout, 'leaf\n');
    // copied files are root's in the container (docker's rule without -a)
    assert.match(await shOk(`${DOCKER} cp h9o-cp:/tmp/in.txt - | tar tvn`), /^-rw-r--r-- 0\/0 /);
    // a file over an existing directory is refused (the CLI asks noOverwriteDirNonDir)
    writeFileSync(join(out, 'sub'), 'a file\n');
    const over = await docker(['cp', join(out, 'sub'), 'h9o-cp:/d/']);
    assert.equal(over.code, 1, show(over));
    assert.match(over.stderr, /cannot overwrite directory "\/d\/sub" with non-directory "sub"/);

    // a stopped container's filesystem is still there
    await dockerOk(['stop', '-t', '0', 'h9o-cp']);
    await dockerOk(['cp', 'h9o-cp:/tmp/in.txt', join(out, 'after-stop')]);
    assert.equal(readFileSync(join(out, 'after-stop'), 'utf8'), 'from the host\n');
    await dockerOk(['cp', join(out, 'renamed'), 'h9o-cp:/stopped-in']);
    assert.equal((await catIn('h9o-cp', '/stopped-in')).stdout, 'hello\n');
    await dockerOk(['rm', '-f', 'h9o-cp']);
  });

  it('docker cp reaches bind mounts (a read-only one refuses) and the /etc files berthd mounts', async () => {
    const rw = join(bd.dir, 'bind-rw');
    const ro = join(bd.dir, 'bind-ro');
    mkdirSync(rw);
    mkdirSync(ro);
    writeFileSync(join(rw, 'on-host'), 'host side\n');
    const id = await runDetached(['--name', 'h9o-binds', '-v', `${rw}:/mnt/rw`, '-v', `${ro}:/mnt/ro:ro`, IMG, 'sh', '-c', 'echo ok > /ready; exec sleep 1000']);
    await ready('h9o-binds');
    assert.equal((await catIn('h9o-binds', '/mnt/rw/on-host')).stdout, 'host side\n');
    const src = join(bd.dir, 'to-bind');
    writeFileSync(src, 'through the mount\n');
    await dockerOk(['cp', src, 'h9o-binds:/mnt/rw/']);
    assert.equal(readFileSync(join(rw, 'to-bind'), 'utf8'), 'through the mount\n');
    const refused = await docker(['cp', src, 'h9o-binds:/mnt/ro/']);
    assert.equal(refused.code, 1, show(refused));
    assert.match(refused.stderr, /mounted volume is marked read-only/);
    assert.equal(existsSync(join(ro, 'to-bind')), false);
    assert.equal((await catIn('h9o-binds', '/etc/hostname')).stdout, `${id.slice(0, 12)}\n`);
    await dockerOk(['rm', '-f', 'h9o-binds']);
  });

  it('stat of a missing path: docker\'s 404 message, the CLI\'s and the SDK\'s', async () => {
    const id = await runDetached(['--name', 'h9o-stat', IMG, 'sh', '-c', 'echo ok > /ready; exec sleep 1000']);
    await ready('h9o-stat');
    const r = await docker(['cp', 'h9o-stat:/nope', bd.dir]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /Error: No such container:path: h9o-stat:\/nope/);
    const head = await raw('HEAD', '/v1.41/containers/h9o-stat/archive?path=/nope');
    assert.equal(head.status, 404);
    const get = await raw('GET', '/v1.41/containers/h9o-stat/archive?path=/nope');
    assert.equal(get.status, 404);
    assert.deepEqual(JSON.parse(get.body), { message: 'Could not find the file /nope in container h9o-stat' });
    const ok = await raw('HEAD', '/v1.41/containers/h9o-stat/archive?path=/bin/ls');
    assert.equal(ok.status, 200);
    const stat = JSON.parse(Buffer.from(String(ok.headers['x-docker-container-path-stat']), 'base64').toString()) as Record<string, unknown>;
    assert.equal(stat.name, 'ls');
    assert.equal(stat.linkTarget, '/bin/busybox');
    assert.equal(Number(stat.mode) & 2 ** 27, 2 ** 27, 'Go ModeSymlink');
    const sdk = await python(`
import docker
c = docker.from_env().containers.get('h9o-stat')
try:
    c.get_archive('/nope')
except docker.errors.NotFound as e:
    print(e.explanation)
bits, st = c.get_archive('/etc/passwd')
print(st['name'], st['size'] > 0, len(b''.join(bits)) > 0)
`);
    assert.equal(sdk.code, 0, show(sdk));
    // the SDK names the container by its ID once it has looked it up
    assert.equal(sdk.stdout, `Could not find the file /nope in container ${id}\npasswd True True\n`);
    const noCtr = await docker(['cp', 'h9o-no-such:/etc', bd.dir]);
    assert.equal(noCtr.code, 1);
    await dockerOk(['rm', '-f', 'h9o-stat']);
  });

  it('a container\'s symlinks never reach the host: reads and writes stay in the container (CVE-2019-14271, CVE-2018-15664)', async () => {
    const tag = randomBytes(4).toString('hex');
    await runDetached(['--name', 'h9o-sym', IMG, 'sh', '-c', [
      'echo h9o-container-passwd > /etc/passwd',
      'ln -s /etc /out', 'ln -s / /root-link', 'ln -s ../../../../../../../etc /rel', 'ln -s /tmp /link',
      'mkdir -p /tmp && echo ok > /ready', 'exec sleep 1000'].join('; ')]);
    await ready('h9o-sym');
    const hostPasswd = readFileSync('/etc/passwd', 'utf8');
    for (const p of ['/out/passwd', '/root-link/etc/passwd', '/rel/passwd', '/../../../../etc/passwd', '/root-link/../../etc/passwd']) {
      const r = await catIn('h9o-sym', p);
      assert.equal(r.stdout, 'h9o-container-passwd\n', `${p}: ${show(r)}`);
    }
    // -L follows the link, in the container
    const follow = join(bd.dir, `follow-${tag}`);
    await dockerOk(['cp', '-L', 'h9o-sym:/out', follow]);
    assert.equal(readFileSync(join(follow, 'passwd'), 'utf8'), 'h9o-container-passwd\n');
    assert.equal(readFileSync('/etc/passwd', 'utf8'), hostPasswd);

    // writing through /link (→ /tmp) lands in the container's /tmp, not the host's
    const name = `h9o-${tag}`;
    const src = join(bd.dir, name);
    writeFileSync(src, 'into the container\n');
    await dockerOk(['cp', src, 'h9o-sym:/link/']);
    assert.equal(existsSync(join('/tmp', name)), false, 'nothing written to the host\'s /tmp');
    assert.equal((await catIn('h9o-sym', `/tmp/${name}`)).stdout, 'into the container\n');
    await dockerOk(['cp', src, 'h9o-sym:/root-link/etc/']);
    assert.equal(existsSync(join('/etc', name)), false, 'nothing written to the host\'s /etc');
    assert.equal((await catIn('h9o-sym', `/etc/${name}`)).stdout, 'into the container\n');
    // a tar whose own symlink points at / cannot carry a later entry out either
    const evil = join(bd.dir, 'evil');
    mkdirSync(evil);
    await runCommand('ln', ['-s', '/', join(evil, 'esc')]);
    await shOk(`cd ${evil} && tar -cf ../evil.tar esc && mkdir -p x && echo pwned > x/${name} && tar --transform 's,^x,esc/tmp,' -rf ../evil.tar x/${name}`);
    await shOk(`${DOCKER} cp - h9o-sym:/tmp < ${join(bd.dir, 'evil.tar')}`);
    assert.equal(existsSync(join('/tmp', name)), false);
    assert.equal((await catIn('h9o-sym', `/tmp/${name}`)).stdout, 'pwned\n');
    await dockerOk(['rm', '-f', 'h9o-sym']);
  });

  it('a directory swapped for a symlink in a loop while docker cp runs never lets cp read or write the host (CVE-2018-15664)', async () => {
    const tag = randomBytes(4).toString('hex');
    await runDetached(['--name', 'h9o-race', IMG, 'sh', '-c', [
      'echo h9o-container-passwd > /etc/passwd', 'mkdir -p /r', 'echo ok > /ready',
      'while :; do rm -rf /r/d; mkdir /r/d; echo h9o-in-dir > /r/d/passwd; rm -rf /r/d; ln -s /etc /r/d; done'].join('; ')]);
    await ready('h9o-race');
    const hostPasswd = readFileSync('/etc/passwd', 'utf8');
    const src = join(bd.dir, `h9o-race-${tag}`);
    writeFileSync(src, 'race\n');
    const seenContents = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const r = await catIn('h9o-race', '/r/d/passwd');
      if (r.stdout !== '') {
        assert.ok(r.stdout === 'h9o-in-dir\n' || r.stdout === 'h9o-container-passwd\n', `read ${JSON.stringify(r.stdout.slice(0, 80))}`);
        seenContents.add(r.stdout);
      }
      await docker(['cp', src, 'h9o-race:/r/d/']);
      assert.equal(existsSync(join('/etc', `h9o-race-${tag}`)), false, 'cp wrote into the host\'s /etc');
    }
    assert.equal(readFileSync('/etc/passwd', 'utf8'), hostPasswd);
    assert.ok(seenContents.size > 0, 'some copies succeeded');
    await dockerOk(['rm', '-f', 'h9o-race']);
  });

  it('docker diff lists added, changed and deleted paths as docker prints them', async () => {
    await runDetached(['--name', 'h9o-diff', IMG, 'sh', '-c',
      'mkdir /h9o-dir && echo x > /h9o-dir/f && echo more >> /etc/passwd && rm /bin/vi && touch /h9o-top && echo ok > /ready; exec sleep 1000']);
    await ready('h9o-diff');
    const lines = (await dockerOk(['diff', 'h9o-diff'])).split('\n').filter(Boolean);
    assert.deepEqual(lines, ['C /bin', 'D /bin/vi', 'C /etc/passwd', 'A /h9o-dir', 'A /h9o-dir/f', 'A /h9o-top', 'A /ready']);
    const sdk = await python(`
import docker
print(sorted((c['Kind'], c['Path']) for c in docker.from_env().containers.get('h9o-diff').diff())[:2])
`);
    assert.equal(sdk.stdout, "[(0, '/bin'), (0, '/etc/passwd')]\n", show(sdk));
    await dockerOk(['rm', '-f', 'h9o-diff']);
  });

  it('docker export writes the merged root filesystem as a tar', async () => {
    await runDetached(['--name', 'h9o-exp', IMG, 'sh', '-c', 'echo exported > /h9o-exported; rm /bin/vi; echo ok > /ready; exec sleep 1000']);
    await ready('h9o-exp');
    const names = (await shOk(`${DOCKER} export h9o-exp | tar t`)).split('\n').filter(Boolean);
    for (const want of ['bin/', 'bin/busybox', 'bin/ls', 'etc/passwd', 'h9o-exported']) assert.ok(names.includes(want), `${want} in\n${names.slice(0, 20).join('\n')}`);
    assert.ok(!names.includes('bin/vi'), 'a deleted file is not exported');
    assert.ok(!names.some((n) => n.includes('.wh.')), 'no whiteouts');
    const file = join(bd.dir, 'exp.tar');
    await dockerOk(['export', '-o', file, 'h9o-exp']);
    assert.equal(await shOk(`tar -xOf ${file} h9o-exported`), 'exported\n');
    await dockerOk(['rm', '-f', 'h9o-exp']);
  });

  it('docker commit makes an image of the container\'s changes: --change applied, history, the image runs without a pull', async () => {
    const id = await runDetached(['--name', 'h9o-commit', IMG, 'sh', '-c', 'echo committed > /h9o-file; rm /bin/vi; echo ok > /ready; exec sleep 1000']);
    await ready('h9o-commit');
    const imageId = (await dockerOk(['commit', '--change', 'ENV X=1', '--change', 'CMD ["sh","-c","echo $X"]', '-m', 'h9o message', 'h9o-commit', 'h9o/committed:v1'])).trim();
    assert.match(imageId, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await (async () => (await dockerOk(['inspect', '-f', '{{.State.Status}}', id])).trim())(), 'running', 'unpaused after the commit');
    assert.equal((await dockerOk(['run', '--rm', 'h9o/committed:v1'])), '1\n');
    assert.equal((await dockerOk(['run', '--rm', 'h9o/committed:v1', 'cat', '/h9o-file'])), 'committed\n');
    const vi = await docker(['run', '--rm', 'h9o/committed:v1', 'ls', '/bin/vi']);
    assert.notEqual(vi.code, 0, 'the deletion is in the layer (a whiteout)');
    assert.match(await dockerOk(['inspect', '-f', '{{.Config.Env}} {{.Comment}} {{len .RootFS.Layers}}', 'h9o/committed:v1']), /\[X=1 PATH=\/bin:\/sbin:\/usr\/bin\] h9o message 2/);
    const hist = (await dockerOk(['history', '--no-trunc', 'h9o/committed:v1'])).split('\n').filter(Boolean);
    assert.equal(hist.length, 3, `a step for the image's layer and one for the commit:\n${hist.join('\n')}`);
    assert.ok(hist[1]!.startsWith(imageId), hist.join('\n'));
    assert.match(hist[1]!, /h9o message/);
    // an untagged commit: a dangling image
    const dangling = (await dockerOk(['commit', '-p=false', 'h9o-commit'])).trim();
    assert.match(await dockerOk(['images', '-a', '--no-trunc']), new RegExp(dangling.replace('sha256:', '')));
    await dockerOk(['rm', '-f', 'h9o-commit']);
    await dockerOk(['rmi', 'h9o/committed:v1', dangling]);
  });
});
