// The berth CLI as a client of berthd: the daemon autostarted on first use (said once on stderr,
// one daemon for two concurrent first commands), then run/ps/logs/stop/wait/inspect/rm through it,
// docker's usage errors, and `run -it` through a pty (script) running an interactive sh.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { berth, berthArgv, daemonPid, stopDaemons } from '../fixtures/berth-cli.ts';
import { busyboxRootfs, runCommand, show } from '../fixtures/busybox.ts';
import { buildImage, pushImage } from '../fixtures/images.ts';
import { LocalRegistry, tarDir } from '../fixtures/registry.ts';

const reg = new LocalRegistry();
let R = '';
let IMG = '';

describe('berth CLI through an autostarted berthd', () => {
  before(async () => {
    // short: the monitors' sockets live under ROOT/run and sun_path holds 108 bytes
    R = mkdtempSync('/tmp/h9j-');
    await reg.start();
    const rootfs = join(R, 'rootfs');
    await busyboxRootfs(rootfs);
    const img = buildImage({ tars: [await tarDir(rootfs)], config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin:/sbin:/usr/bin'] } });
    rmSync(rootfs, { recursive: true, force: true });
    await pushImage(reg, 'h9j/busybox', 'latest', img);
    IMG = `${reg.domain}/h9j/busybox`;
  });

  after(async () => {
    try {
      if (daemonPid(join(R, 'store')) !== undefined) {
        const ids = (await berth(join(R, 'store'), ['ps', '-aq'])).stdout.split('\n').filter(Boolean);
        if (ids.length > 0) await berth(join(R, 'store'), ['rm', '-f', ...ids]);
      }
    } finally {
      await stopDaemons();
      await reg.stop();
      if (R) rmSync(R, { recursive: true, force: true });
    }
  });

  const root = (): string => join(R, 'store');

  it('two concurrent first commands start one berthd, said once on stderr', async () => {
    const [a, b] = await Promise.all([berth(root(), ['images'], { keepStartLine: true }), berth(root(), ['ps'], { keepStartLine: true })]);
    assert.equal(a.code, 0, show(a));
    assert.equal(b.code, 0, show(b));
    const said = [a.stderr, b.stderr].join('').split('\n').filter((l) => l.startsWith('berth: started berthd'));
    assert.equal(said.length, 1, show(a) + show(b));
    const pid = daemonPid(root());
    assert.ok(pid !== undefined, 'a berthd runs');
    assert.equal(said[0], `berth: started berthd (pid ${pid}) on unix://${join(root(), 'run', 'berth.sock')}`);
    assert.equal(b.stdout, 'CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n');
    const again = await berth(root(), ['images'], { keepStartLine: true });
    assert.equal(again.stderr, '', 'said once: the daemon answers now');
    assert.equal(daemonPid(root()), pid);
  });

  it('run --rm: output on stdout and stderr, the exit code; run -d, ps, logs, stop, wait, inspect, rm', async () => {
    const p = await berth(root(), ['pull', '-q', IMG]);
    assert.equal(p.code, 0, show(p));
    const r = await berth(root(), ['run', '--rm', IMG, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [3, 'out\n', 'err\n'], show(r));
    // the output ends well before the exit: the stream's end is not an exit (nor a detach)
    const late = await berth(root(), ['run', '--rm', IMG, 'sh', '-c', 'echo bye; exec >&- 2>&-; sleep 0.5; exit 4']);
    assert.deepEqual([late.code, late.stdout], [4, 'bye\n'], show(late));

    const d = await berth(root(), ['run', '-d', '--name', 'h9j-web', '-e', 'GREETING=hi', IMG, 'sh', '-c', 'echo $GREETING; exec sleep 1000']);
    assert.equal(d.code, 0, show(d));
    const id = d.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const ps = await berth(root(), ['ps']);
    assert.equal(ps.code, 0, show(ps));
    const [head, row] = ps.stdout.split('\n');
    assert.match(head!, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    assert.match(row!, new RegExp(`^${id.slice(0, 12)}\\s+${IMG.replace(/[.]/g, '\\.')}\\s+"sh -c echo \\$GREETIN…"\\s+.* ago\\s+Up .*\\s+h9j-web$`));
    const q = await berth(root(), ['ps', '-q']);
    assert.equal(q.stdout, `${id.slice(0, 12)}\n`);
    let logs = await berth(root(), ['logs', 'h9j-web']);
    for (let i = 0; i < 50 && logs.stdout === ''; i++) logs = await berth(root(), ['logs', 'h9j-web']);
    assert.equal(logs.stdout, 'hi\n', show(logs));
    const stop = await berth(root(), ['stop', '-t', '1', 'h9j-web']);
    assert.deepEqual([stop.code, stop.stdout], [0, 'h9j-web\n'], show(stop));
    const w = await berth(root(), ['wait', 'h9j-web']);
    assert.deepEqual([w.code, w.stdout], [0, '137\n'], show(w));
    const ins = await berth(root(), ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}} {{.Name}}', 'h9j-web']);
    assert.deepEqual([ins.code, ins.stdout], [0, 'exited 137 /h9j-web\n'], show(ins));
    const rm = await berth(root(), ['rm', 'h9j-web']);
    assert.deepEqual([rm.code, rm.stdout], [0, 'h9j-web\n'], show(rm));
    const gone = await berth(root(), ['rm', 'h9j-web']);
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr, 'Error response from daemon: No such container: h9j-web\n');
  });

  it("docker's usage errors: unknown flag and bad size exit 125 with `See 'berth run --help'.`", async () => {
    const u = await berth(root(), ['run', '--foo', IMG]);
    assert.deepEqual([u.code, u.stderr], [125, "unknown flag: --foo\nSee 'berth run --help'.\n"], show(u));
    const m = await berth(root(), ['run', '--memory', '12q', IMG]);
    assert.equal(m.code, 125, show(m));
    assert.match(m.stderr, /^invalid argument "12q" for "-m, --memory" flag: .*\nSee 'berth run --help'\.\n$/);
    const missing = await berth(root(), ['run', '--rm', '--pull', 'never', `${reg.domain}/h9j/nothere`]);
    assert.equal(missing.code, 125, show(missing));
    assert.match(missing.stderr, /^berth: Error response from daemon: .*No such image/);
  });

  it("docker 20.10's usage errors on every verb: a flag error exits 125, a wrong argument count 1 with the usage", async () => {
    const flag = await berth(root(), ['pull', '--x', IMG]);
    assert.deepEqual([flag.code, flag.stderr], [125, "unknown flag: --x\nSee 'berth pull --help'.\n"], show(flag));
    const short = await berth(root(), ['image', 'ls', '-z']);
    assert.deepEqual([short.code, short.stderr], [125, "unknown shorthand flag: 'z' in -z\nSee 'berth image ls --help'.\n"], show(short));
    const none = await berth(root(), ['pull']);
    assert.equal(none.code, 1, show(none));
    assert.equal(none.stderr, `"berth pull" requires exactly 1 argument.\nSee 'berth pull --help'.\n\nUsage:  berth pull [OPTIONS] NAME[:TAG|@DIGEST]\n\nDownload an image from a registry\n`);
    const extra = await berth(root(), ['load', 'x']);
    assert.equal(extra.code, 1, show(extra));
    assert.match(extra.stderr, /^"berth load" accepts no arguments\.\nSee 'berth load --help'\.\n\nUsage:  berth load \[OPTIONS\]\n/);
    const tag = await berth(root(), ['tag', 'a']);
    assert.equal(tag.code, 1, show(tag));
    assert.match(tag.stderr, /^"berth tag" requires exactly 2 arguments\.\n/);
    const rm = await berth(root(), ['rm']);
    assert.equal(rm.code, 1, show(rm));
    assert.match(rm.stderr, /^"berth rm" requires at least 1 argument\.\nSee 'berth rm --help'\.\n/);
  });

  it('run -it through a pty: an interactive sh sees what is typed and its exit code comes back', async () => {
    const cmd = [...berthArgv(), '--root', root(), 'run', '-it', '--rm', IMG, 'sh'].map((a) => `'${a}'`).join(' ');
    // script: a pty for berth; what is typed goes in through it
    const r = await runCommand('script', ['-qec', cmd, '/dev/null'], { input: 'echo h""i; exit 3\n', timeoutMs: 30_000 });
    assert.equal(r.code, 3, show(r));
    assert.match(r.stdout, /^hi\r*$/m, show(r));
  });
});
