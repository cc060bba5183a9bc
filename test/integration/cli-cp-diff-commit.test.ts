// The berth CLI's cp, diff, commit, update and export against a private berthd, compared with
// Debian's docker CLI 20.10 (/usr/bin/docker) on the same daemon: the copy rules (file, dir,
// existing dir, `/.`), `-` tar streams both ways, docker's errors, and the symlink attacks on the
// host side of `cp` (a container's `evil -> /etc` must not read or write the host's /etc, nor
// may a hostile daemon's archive write through a symlink out of the destination). Also
// --security-opt apparmor=/label= as dockerd 20.10 treats them on a host without AppArmor/SELinux.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BerthdHarness, DOCKER } from '../fixtures/berthd.ts';
import { berthArgv } from '../fixtures/berth-cli.ts';
import { runCommand, show, type CommandOptions, type CommandResult } from '../fixtures/busybox.ts';
import { tarEntries } from '../fixtures/tar.ts';
import { waitFor } from '../fixtures/wait.ts';

const bd = new BerthdHarness({ prefix: 'h10c' });
const { docker, dockerOk, runDetached, env } = bd;
let IMG = '';
let OUT = '';

/** `berth ARGS` pointed at the test's berthd (DOCKER_HOST: an explicit host is never autostarted). */
function berth(args: string[], opts: CommandOptions = {}): Promise<CommandResult> {
  const [cmd, ...pre] = berthArgv();
  return runCommand(cmd!, [...pre, ...args], { env: env(), label: `berth ${args.join(' ')}`, timeoutMs: 60_000, ...opts });
}

async function berthOk(args: string[], opts: CommandOptions = {}): Promise<string> {
  const r = await berth(args, opts);
  assert.equal(r.code, 0, `${show(r)}\n--- berthd log ---\n${bd.log.slice(-3000)}`);
  return r.stdout;
}

/** A shell pipeline (berth and docker pointed at berthd). */
async function sh(script: string): Promise<CommandResult> {
  const berthCmd = berthArgv().join(' ');
  return runCommand('/bin/sh', ['-c', script], { env: { ...env(), BERTH: berthCmd, DOCKER, PATH: '/usr/bin:/bin:/usr/sbin:/sbin' }, label: script, timeoutMs: 60_000 });
}

/** A directory as sorted `TYPE path [content|target]` lines. */
function tree(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const p = rel === '' ? name : `${rel}/${name}`;
    const st = lstatSync(join(dir, p));
    if (st.isDirectory()) out.push(`d ${p}`, ...tree(dir, p));
    else if (st.isSymbolicLink()) out.push(`l ${p} -> ${readlinkSync(join(dir, p))}`);
    else out.push(`f ${p} ${readFileSync(join(dir, p), 'utf8').trim()}`);
  }
  return out;
}

/** Runs the same cp with berth and docker, each into its own fresh copy of `prep`'s state; both results and trees. */
async function both(name: string, args: (out: string) => string[], prep?: (out: string) => void): Promise<{ b: CommandResult; d: CommandResult; bt: string[]; dt: string[] }> {
  const bo = join(OUT, `${name}-berth`);
  const dout = join(OUT, `${name}-docker`);
  for (const o of [bo, dout]) {
    mkdirSync(o);
    prep?.(o);
  }
  const b = await berth(args(bo));
  const d = await docker(args(dout));
  return { b, d, bt: tree(bo), dt: tree(dout) };
}

describe('berth CLI: cp, diff, commit, update, export through berthd', { timeout: 300_000 }, () => {
  before(async () => {
    await bd.setup();
    IMG = bd.image;
    OUT = mkdtempSync('/tmp/h10c-out-');
    await runDetached(['--name', 'h10c-cp', IMG, 'sh', '-c',
      'mkdir -p /d/sub && echo f > /d/sub/f && echo hi > /f.txt && ln -s /etc /evil && ln -s sub /d/rel && echo container > /etc/h10c-marker && echo ok > /ready && exec sleep 1000']);
    await waitFor('h10c-cp to be ready', async () => (await sh('$BERTH cp h10c-cp:/ready - | tar -xOf -')).stdout === 'ok\n', 15_000, () => bd.log.slice(-2000), 50);
  });

  after(async () => {
    await docker(['rm', '-f', 'h10c-cp', 'h10c-upd', 'h10c-upd2', 'h10c-aa', 'h10c-fromimg']);
    await docker(['rmi', 'h10c/img:v1']);
    await bd.teardown();
    for (const f of ['/etc/h10c-pwned', '/etc/h10c-in', '/etc/h10c-stdin']) if (existsSync(f)) unlinkSync(f);
    if (OUT) rmSync(OUT, { recursive: true, force: true });
  });

  it('cp out follows docker\'s rules: a file, a new dir, into an existing dir, `/.`, -L; what docker makes of the same', async () => {
    const cases: [string, (o: string) => string[], ((o: string) => void)?][] = [
      ['file', (o) => ['cp', 'h10c-cp:/f.txt', join(o, 'new.txt')]],
      ['file-into-dir', (o) => ['cp', 'h10c-cp:/f.txt', o]],
      ['file-over-file', (o) => ['cp', 'h10c-cp:/f.txt', join(o, 'x')], (o) => writeFileSync(join(o, 'x'), 'old')],
      ['dir-new', (o) => ['cp', 'h10c-cp:/d', join(o, 'dcopy')]],
      ['dir-existing', (o) => ['cp', 'h10c-cp:/d', o]],
      ['dir-dot', (o) => ['cp', 'h10c-cp:/d/.', join(o, 'dot')]],
      ['dir-dot-existing', (o) => ['cp', 'h10c-cp:/d/.', o], (o) => writeFileSync(join(o, 'keep'), 'k')],
      ['symlink-kept', (o) => ['cp', 'h10c-cp:/d/rel', o]],
      ['symlink-followed', (o) => ['cp', '-L', 'h10c-cp:/d/rel', o]],
    ];
    for (const [name, args, prep] of cases) {
      const r = await both(name, args, prep);
      assert.equal(r.b.code, 0, `${name}: ${show(r.b)}\n${bd.log.slice(-2000)}`);
      assert.equal(r.d.code, 0, `${name}: ${show(r.d)}`);
      assert.equal(r.b.stdout, '', name);
      assert.deepEqual(r.bt, r.dt, name);
    }
    assert.deepEqual(tree(join(OUT, 'dir-new-berth')), ['d dcopy', 'l dcopy/rel -> sub', 'd dcopy/sub', 'f dcopy/sub/f f']);
    assert.deepEqual(tree(join(OUT, 'symlink-followed-berth')), ['d rel', 'f rel/f f']);
  });

  it('cp errors are docker\'s, word for word, with its exit code', async () => {
    const cases: [string, (o: string) => string[], ((o: string) => void)?][] = [
      ['missing', (o) => ['cp', 'h10c-cp:/nope', join(o, 'x')]],
      ['no-container', (o) => ['cp', 'h10c-nosuch:/f.txt', join(o, 'x')]],
      ['dir-over-file', (o) => ['cp', 'h10c-cp:/d', join(o, 'x')], (o) => writeFileSync(join(o, 'x'), 'old')],
      ['file-to-missing-dir', (o) => ['cp', 'h10c-cp:/f.txt', join(o, 'nodir/')]],
      ['two-locals', (o) => ['cp', join(o, 'a'), join(o, 'b')]],
      ['two-containers', () => ['cp', 'h10c-cp:/a', 'h10c-cp:/b']],
      ['missing-local-source', (o) => ['cp', join(o, 'nothing'), 'h10c-cp:/tmp/']],
    ];
    for (const [name, args, prep] of cases) {
      const r = await both(`err-${name}`, args, prep);
      const strip = (s: string): string => s.replaceAll(`err-${name}-berth`, 'X').replaceAll(`err-${name}-docker`, 'X');
      assert.equal(r.d.code, 1, `${name}: ${show(r.d)}`);
      assert.deepEqual([r.b.code, strip(r.b.stderr)], [r.d.code, strip(r.d.stderr)], name);
      assert.deepEqual(r.bt, r.dt, name);
    }
  });

  it('cp - streams a tar: out to stdout (docker\'s names), in from stdin; copies in land where docker puts them', async () => {
    const bt = await sh('$BERTH cp h10c-cp:/d - | tar -t | sort');
    const dt = await sh('$DOCKER cp h10c-cp:/d - | tar -t | sort');
    assert.equal(bt.code, 0, show(bt));
    assert.deepEqual(bt.stdout, dt.stdout);
    assert.deepEqual(bt.stdout.split('\n').filter(Boolean), ['d/', 'd/rel', 'd/sub/', 'd/sub/f']);
    const src = join(OUT, 'stdin-src');
    mkdirSync(join(src, 'a'), { recursive: true });
    writeFileSync(join(src, 'a', 'x'), 'from stdin\n');
    const put = await sh(`tar -C ${src} -cf - a | $BERTH cp - h10c-cp:/tmp`);
    assert.deepEqual([put.code, put.stdout], [0, ''], show(put));
    assert.equal((await sh('$DOCKER cp h10c-cp:/tmp/a/x - | tar -xOf -')).stdout, 'from stdin\n');
    // `-` wants a directory in the container, as docker's
    const notDir = await sh(`tar -C ${src} -cf - a | $BERTH cp - h10c-cp:/f.txt`);
    assert.deepEqual([notDir.code, notDir.stderr], [1, 'destination "h10c-cp:/f.txt" must be a directory\n']);

    // a file and a directory in: the container's view afterwards
    await berthOk(['cp', join(src, 'a', 'x'), 'h10c-cp:/tmp/renamed']);
    assert.equal((await sh('$DOCKER cp h10c-cp:/tmp/renamed - | tar -xOf -')).stdout, 'from stdin\n');
    await berthOk(['cp', join(src, 'a'), 'h10c-cp:/tmp/newdir']);
    assert.equal((await sh('$DOCKER cp h10c-cp:/tmp/newdir/x - | tar -xOf -')).stdout, 'from stdin\n');
    await berthOk(['cp', `${join(src, 'a')}/.`, 'h10c-cp:/d/sub']);
    assert.equal((await sh('$DOCKER cp h10c-cp:/d/sub/x - | tar -xOf -')).stdout, 'from stdin\n');
    // without -a what is copied in is root's; with -a the host owner is kept
    assert.match((await sh('$DOCKER cp h10c-cp:/tmp/renamed - | tar -tvn')).stdout, /^-rw-r--r-- 0\/0 /);
    await sh(`chown 4321:4321 ${join(src, 'a', 'x')}`);
    await berthOk(['cp', '-a', join(src, 'a', 'x'), 'h10c-cp:/tmp/owned']);
    assert.match((await sh('$DOCKER cp h10c-cp:/tmp/owned - | tar -tvn')).stdout, /^-rw-r--r-- 4321\/4321 /);
  });

  it('a container\'s symlink to /etc never reaches the host\'s /etc, in either direction', async () => {
    const hostHostname = readFileSync('/etc/hostname', 'utf8');
    // out: /evil/. is the container's /etc
    const out = join(OUT, 'sym-out');
    await berthOk(['cp', 'h10c-cp:/evil/.', out]);
    assert.equal(readFileSync(join(out, 'h10c-marker'), 'utf8'), 'container\n');
    assert.ok(!existsSync(join(out, 'debian_version')) || existsSync('/etc/debian_version') === false || readdirSync(out).length < readdirSync('/etc').length);
    // out, kept as a symlink: the host gets the link, nothing of the host's /etc is read or written
    const keep = join(OUT, 'sym-keep');
    mkdirSync(keep);
    await berthOk(['cp', 'h10c-cp:/evil', keep]);
    assert.equal(readlinkSync(join(keep, 'evil')), '/etc');
    // in: a copy to /evil/ goes to the container's /etc
    const f = join(OUT, 'h10c-in');
    writeFileSync(f, 'in\n');
    await berthOk(['cp', f, 'h10c-cp:/evil/']);
    assert.ok(!existsSync('/etc/h10c-in'), 'the host\'s /etc is untouched');
    assert.equal((await sh('$DOCKER cp h10c-cp:/etc/h10c-in - | tar -xOf -')).stdout, 'in\n');
    // a second copy out onto the host's earlier copy: the container made evil a directory with a
    // file, and the host's evil is the symlink to /etc: docker's refusal, the host's /etc untouched
    await dockerOk(['exec', 'h10c-cp', 'sh', '-c', 'rm /evil && mkdir /evil && echo pwned > /evil/h10c-pwned']);
    const again = await berth(['cp', 'h10c-cp:/evil', keep]);
    assert.equal(again.code, 1, show(again));
    assert.match(again.stderr, /cannot overwrite non-directory .*evil.* with directory/);
    assert.ok(!existsSync('/etc/h10c-pwned'), 'nothing written through the host symlink');
    assert.equal(readFileSync('/etc/hostname', 'utf8'), hostHostname);
    await dockerOk(['exec', 'h10c-cp', 'sh', '-c', 'rm -r /evil && ln -s /etc /evil']);
  });

  it('a hostile daemon\'s archive (a symlink to /etc, then a file through it) stays inside the destination', async () => {
    // the threat is the daemon's archive itself: a server that answers like berthd but sends a crafted tar
    const tar = await tarEntries([
      [{ path: 'x/', type: 'dir', mode: 0o755 }],
      [{ path: 'x/evil', type: 'symlink', linkname: '/etc' }],
      [{ path: 'x/evil/h10c-pwned', type: 'file', mode: 0o644 }, Buffer.from('pwned\n')],
      [{ path: 'x/up', type: 'symlink', linkname: '../../../../../../etc' }],
      [{ path: 'x/up/h10c-pwned', type: 'file', mode: 0o644 }, Buffer.from('pwned\n')],
    ]);
    const sock = join(OUT, 'hostile.sock');
    const stat = Buffer.from(JSON.stringify({ name: 'x', size: 0, mode: 2 ** 31 + 0o755, mtime: '2020-01-01T00:00:00Z', linkTarget: '' })).toString('base64');
    const server: Server = createServer((req, res) => {
      if (req.url === '/_ping') return res.writeHead(200, { 'API-Version': '1.41' }).end('OK');
      res.writeHead(200, { 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': stat }).end(req.method === 'HEAD' ? undefined : tar);
    });
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      const dest = join(OUT, 'hostile');
      mkdirSync(dest);
      const r = await runCommand(berthArgv()[0]!, [...berthArgv().slice(1), '-H', `unix://${sock}`, 'cp', 'c:/x', dest], { label: 'berth cp from a hostile daemon', timeoutMs: 30_000 });
      assert.equal(r.code, 1, show(r));
      assert.equal(r.stderr, `cp: extracting into ${dest}: ${dest}/etc: no such file or directory\n`);
      assert.ok(!existsSync('/etc/h10c-pwned'), 'the host\'s /etc is untouched');
      // what was extracted is inside dest only
      assert.deepEqual(tree(dest).filter((l) => !l.startsWith('l ')), ['d x']);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('diff prints docker\'s C/A/D lines; commit prints the new image\'s ID and the image has the change', async () => {
    const b = await berth(['diff', 'h10c-cp']);
    const d = await docker(['diff', 'h10c-cp']);
    assert.equal(b.code, 0, show(b));
    assert.deepEqual([b.stdout, b.stderr], [d.stdout, d.stderr]);
    assert.match(b.stdout, /^A \/f\.txt$/m);
    assert.match(b.stdout, /^C \/etc$/m);
    const none = await berth(['diff', 'h10c-nosuch']);
    const dnone = await docker(['diff', 'h10c-nosuch']);
    assert.deepEqual([none.code, none.stderr], [dnone.code, dnone.stderr]);

    const c = await berthOk(['commit', '-m', 'h10c msg', '-a', 'h10c <h@x>', '-c', 'ENV H10C=1', 'h10c-cp', 'h10c/img:v1']);
    assert.match(c, /^sha256:[0-9a-f]{64}\n$/);
    assert.equal((await dockerOk(['image', 'inspect', '-f', '{{.Id}} {{.Comment}} {{.Author}}', 'h10c/img:v1'])).trim(), `${c.trim()} h10c msg h10c <h@x>`);
    const ran = await dockerOk(['run', '--name', 'h10c-fromimg', 'h10c/img:v1', 'sh', '-c', 'cat /f.txt; echo $H10C']);
    assert.equal(ran, 'hi\n1\n');
    const dig = await berth(['commit', 'h10c-cp', 'h10c/img@sha256:' + '0'.repeat(64)]);
    assert.deepEqual([dig.code, dig.stderr], [1, 'refusing to create a tag with a digest reference\n']);
  });

  it('update prints each name as docker does, and the daemon has the new limits; errors as docker\'s', async () => {
    await dockerOk(['create', '--name', 'h10c-upd', IMG, 'true']);
    await dockerOk(['create', '--name', 'h10c-upd2', IMG, 'true']);
    const u = await berth(['update', '--memory', '64m', '--memory-swap', '128m', '--cpu-shares', '512', '--pids-limit', '50', '--restart', 'on-failure:2', 'h10c-upd']);
    const du = await docker(['update', '--memory', '64m', '--memory-swap', '128m', '--cpu-shares', '512', '--pids-limit', '50', '--restart', 'on-failure:2', 'h10c-upd2']);
    assert.deepEqual([u.code, u.stdout, u.stderr], [0, 'h10c-upd\n', ''], show(u));
    assert.deepEqual([du.code, du.stderr], [0, '']);
    const fmt = '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}';
    assert.equal(await bd.inspect('h10c-upd', fmt), '67108864 134217728 512 50 on-failure:2');
    assert.equal(await bd.inspect('h10c-upd', fmt), await bd.inspect('h10c-upd2', fmt));
    for (const args of [['update', 'h10c-upd'], ['update', '--cpu-shares', '2', 'h10c-nosuch'], ['update', '--cpu-shares', '2', 'h10c-nosuch', 'h10c-upd']]) {
      const b = await berth(args);
      const d = await docker(args);
      assert.deepEqual([b.code, b.stdout, b.stderr], [d.code, d.stdout, d.stderr], args.join(' '));
    }
  });

  it('export of a container goes through the API: -o FILE or stdout, as docker\'s', async () => {
    const file = join(OUT, 'exp.tar');
    await berthOk(['export', '-o', file, 'h10c-cp']);
    const listed = (await sh(`tar -tf ${file}`)).stdout.split('\n');
    assert.ok(listed.includes('f.txt') && listed.includes('d/sub/f'), listed.join(' '));
    const piped = await sh('$BERTH export h10c-cp | tar -t | sort');
    const dpiped = await sh('$DOCKER export h10c-cp | tar -t | sort');
    assert.equal(piped.stdout, dpiped.stdout);
    const none = await berth(['export', '-o', join(OUT, 'n.tar'), 'h10c-nosuch']);
    const dnone = await docker(['export', '-o', join(OUT, 'n.tar'), 'h10c-nosuch']);
    assert.deepEqual([none.code, none.stderr], [dnone.code, dnone.stderr]);
    assert.ok(!existsSync(join(OUT, 'n.tar')));
  });

  it('--security-opt apparmor= and label= are accepted as dockerd 20.10 accepts them without AppArmor/SELinux', async () => {
    await dockerOk(['create', '--name', 'h10c-aa', '--security-opt', 'apparmor=h10c-profile', '--security-opt', 'label=disable', '--security-opt', 'label=type:h10c_t', IMG, 'true']);
    // create records the profile, start clears it (saveAppArmorConfig: AppArmor is not enabled here)
    assert.equal(await bd.inspect('h10c-aa', '{{.AppArmorProfile}}|{{.ProcessLabel}}|{{.MountLabel}}|{{json .HostConfig.SecurityOpt}}'),
      'h10c-profile|||["apparmor=h10c-profile","label=disable","label=type:h10c_t"]');
    await dockerOk(['start', '-a', 'h10c-aa']);
    assert.equal(await bd.inspect('h10c-aa', '{{.AppArmorProfile}}'), '');
    assert.equal(await dockerOk(['run', '--rm', '--security-opt', 'label=disable', IMG, 'echo', 'ok']), 'ok\n');
    const bad = await docker(['run', '--rm', '--security-opt', 'h10c=1', IMG, 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /invalid --security-opt 2: "h10c=1"/);
  });
});
