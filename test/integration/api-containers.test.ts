// berthd's containers as real clients drive them: Debian's docker CLI 20.10 (/usr/bin/docker) and
// Docker SDK for Python (/usr/bin/python3), against a berthd (dist/berthd.js) on a private socket,
// data root and exec root, with a busybox image pushed to Debian's docker-registry on 127.0.0.1
// and pulled through berthd. What a user sees is asserted: output, exit codes, docker's columns
// and messages, processes on the host; and that containers outlive the daemon (SIGTERM and
// kill -9) and show their real exit code once it is back. Nothing is left behind: containers are
// removed, the daemon stopped, and no mount, cgroup or process of the test's containers remains.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BerthdHarness } from '../fixtures/berthd.ts';
import { show } from '../fixtures/busybox.ts';
import { alive, cgroupDirsOf } from '../fixtures/host.ts';
import { sleep, waitFor } from '../fixtures/wait.ts';

const bd = new BerthdHarness({ prefix: 'h9i' });
const { docker, dockerOk, runDetached, python, inspect } = bd;
let IMG = '';

describe('berthd: containers for the docker CLI and the Python SDK', { timeout: 300_000 }, () => {
  before(async () => {
    await bd.setup();
    IMG = bd.image;
  });

  after(() => bd.teardown());

  it('docker run --rm prints the output and propagates the exit code; the container is gone after', async () => {
    const r = await docker(['run', '--rm', IMG, 'echo', 'hi']);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'hi\n');
    const three = await docker(['run', '--rm', IMG, 'sh', '-c', 'echo to-stderr >&2; exit 3']);
    assert.equal(three.code, 3, show(three));
    assert.equal(three.stderr, 'to-stderr\n');
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint();
      await dockerOk(['run', '--rm', IMG, 'true']);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, b) => a - b);
    console.log(`docker run --rm IMG true through berthd: median ${times[2]!.toFixed(0)} ms (min ${times[0]!.toFixed(0)}, max ${times[4]!.toFixed(0)})`);
    assert.equal((await dockerOk(['ps', '-aq'])).trim(), '', '--rm containers are removed');
    // a command that does not exist: docker's 127 and message, and --rm removes it
    const missing = await docker(['run', '--rm', IMG, 'h9i-no-such-command']);
    assert.equal(missing.code, 127, show(missing));
    assert.match(missing.stderr, /executable file not found in \$PATH/);
    assert.equal((await dockerOk(['ps', '-aq'])).trim(), '');
  });

  it('run -d, ps with docker\'s columns, logs, stop after the timeout (sleep as PID 1 ignores SIGTERM), inspect, rm', async () => {
    const id = await runDetached(['--name', 'h9i-web', IMG, 'sh', '-c', 'echo started; exec sleep 1000']);
    const ps = (await dockerOk(['ps'])).split('\n');
    assert.match(ps[0]!, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    const row = ps.find((l) => l.startsWith(id.slice(0, 12)));
    assert.ok(row, `ps lists ${id}:\n${ps.join('\n')}`);
    assert.ok(row.startsWith(`${id.slice(0, 12)}   ${IMG}   "sh -c echo started;…"   `), row);
    assert.match(row, /\s(Up (Less than a second|\d+ seconds?))\s/);
    assert.match(row, /h9i-web$/);
    assert.equal(await inspect('h9i-web', '{{.State.Status}} {{.State.Running}} {{.Name}}'), 'running true /h9i-web');
    const pid = Number(await inspect(id, '{{.State.Pid}}'));
    assert.ok(alive(pid), 'the container\'s process runs on the host');
    await waitFor('the first log line', async () => (await dockerOk(['logs', 'h9i-web'])) === 'started\n');

    // rm without -f: docker's 409 and message
    const rm = await docker(['rm', 'h9i-web']);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, new RegExp(`You cannot remove a running container ${id}\\. Stop the container before attempting removal or force remove`));
    // the name is taken
    const dup = await docker(['run', '-d', '--name', 'h9i-web', IMG, 'true']);
    assert.equal(dup.code, 125);
    assert.match(dup.stderr, new RegExp(`Conflict\\. The container name "/h9i-web" is already in use by container "${id}"\\. You have to remove \\(or rename\\) that container to be able to reuse that name\\.`));

    const t0 = Date.now();
    await dockerOk(['stop', '-t', '1', 'h9i-web']);
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 5000, `stop -t 1 took ${took} ms`);
    assert.equal(await inspect(id, '{{.State.ExitCode}} {{.State.Status}}'), '137 exited');
    assert.equal(alive(pid), false);
    assert.match((await dockerOk(['ps', '-a', '--filter', 'name=h9i-web'])).split('\n')[1] ?? '', /Exited \(137\) (Less than a second|\d+ seconds?) ago/);
    await dockerOk(['rm', 'h9i-web']);
    const gone = await docker(['inspect', 'h9i-web']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /No such object: h9i-web/);
    assert.deepEqual(cgroupDirsOf(id), []);
  });

  it('logs -f follows until the container exits; --tail, -t, stdout and stderr kept apart', async () => {
    const id = await runDetached(['--name', 'h9i-talk', IMG, 'sh', '-c', 'for i in 1 2 3; do echo out $i; echo err $i >&2; sleep 0.3; done']);
    const f = await docker(['logs', '-f', 'h9i-talk'], { timeoutMs: 20_000 });
    assert.equal(f.code, 0, show(f));
    assert.equal(f.stdout, 'out 1\nout 2\nout 3\n');
    assert.equal(f.stderr, 'err 1\nerr 2\nerr 3\n');
    // --tail counts entries of both streams, as docker's json-file reader does
    const tail = await docker(['logs', '--tail', '2', '-t', id]);
    assert.match(tail.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z out 3\n$/);
    assert.match(tail.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z err 3\n$/);
    assert.equal(await inspect(id, '{{.State.ExitCode}}'), '0');
    await dockerOk(['rm', id]);
  });

  it('wait, kill -s, rename, pause/unpause, top', async () => {
    const id = await runDetached(['--name', 'h9i-sig', IMG, 'sh', '-c', 'trap "echo got usr1; exit 42" USR1; while true; do sleep 0.1; done']);
    const top = await dockerOk(['top', 'h9i-sig']);
    assert.match(top.split('\n')[0]!, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
    assert.match(top, /sh -c trap/);
    await dockerOk(['pause', 'h9i-sig']);
    assert.equal(await inspect(id, '{{.State.Status}} {{.State.Paused}}'), 'paused true');
    assert.match(await dockerOk(['ps', '--filter', `id=${id}`, '--format', '{{.Status}}']), /^Up .* \(Paused\)\n$/);
    const rmPaused = await docker(['rm', id]);
    assert.match(rmPaused.stderr, /You cannot remove a paused container/);
    await dockerOk(['unpause', 'h9i-sig']);
    assert.equal(await inspect(id, '{{.State.Status}}'), 'running');
    await dockerOk(['rename', 'h9i-sig', 'h9i-sig2']);
    assert.equal(await inspect(id, '{{.Name}}'), '/h9i-sig2');
    const waiting = docker(['wait', 'h9i-sig2']);
    await sleep(200);
    await dockerOk(['kill', '-s', 'USR1', 'h9i-sig2']);
    const w = await waiting;
    assert.equal(w.stdout, '42\n', show(w));
    assert.equal(await dockerOk(['logs', id]), 'got usr1\n');
    const notRunning = await docker(['kill', id]);
    assert.equal(notRunning.code, 1);
    assert.match(notRunning.stderr, new RegExp(`Container ${id} is not running`));
    await dockerOk(['rm', id]);
  });

  it('stdin: echo hi | docker run -i IMG cat; docker attach sees the output and the exit code', async () => {
    const r = await docker(['run', '-i', '--rm', IMG, 'cat'], { input: 'hi from stdin\n' });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'hi from stdin\n');
    const id = await runDetached(['--name', 'h9i-att', IMG, 'sh', '-c', 'sleep 1; echo from-attach; exit 5']);
    const a = await docker(['attach', 'h9i-att']);
    assert.equal(a.stdout, 'from-attach\n', show(a));
    assert.equal(a.code, 5);
    await dockerOk(['rm', id]);
  });

  it('the Python SDK: containers.run returns the output; list, logs, wait, remove', async () => {
    const r = await python(`
import docker
c = docker.from_env()
print(repr(c.containers.run(${JSON.stringify(IMG)}, 'echo hi', remove=True)))
x = c.containers.run(${JSON.stringify(IMG)}, ['sh', '-c', 'echo out; exit 2'], detach=True, name='h9i-py')
print(x.wait()['StatusCode'])
print(repr(x.logs()))
print([y.name for y in c.containers.list(all=True)])
x.remove()
print([y.name for y in c.containers.list(all=True)])
`);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(r.stdout.trim().split('\n'), ["b'hi\\n'", '2', "b'out\\n'", "['h9i-py']", '[]']);
  });

  for (const how of ['SIGTERM', 'SIGKILL'] as const) {
    it(`a running container survives berthd's end (${how}) and shows its real exit code once berthd is back`, async () => {
      const id = await runDetached(['--name', `h9i-survive-${how}`, IMG, 'sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 7']);
      const pid = Number(await inspect(id, '{{.State.Pid}}'));
      const code = await bd.stop(how);
      if (how === 'SIGTERM') assert.equal(code, 0, bd.log);
      await sleep(300);
      assert.ok(alive(pid), 'the container runs on without berthd');
      await bd.start();
      const ps = await dockerOk(['ps', '--filter', `id=${id}`, '--format', '{{.Names}} {{.Status}}']);
      assert.match(ps, new RegExp(`^h9i-survive-${how} Up .*\\n$`));
      // the logs written meanwhile are there; the exit after the restart is recorded
      writeFileSync(join(bd.dir, 'data', 'containers', id, 'bundle', 'rootfs', 'tmp', 'go'), '');
      const w = await docker(['wait', id]);
      assert.equal(w.stdout, '7\n', show(w));
      assert.equal(await inspect(id, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 7');
      assert.notEqual(await inspect(id, '{{.State.FinishedAt}}'), '0001-01-01T00:00:00Z');
      await dockerOk(['rm', id]);
    });
  }

  it('a container that exits while berthd is down shows its exit code and FinishedAt when berthd is back', async () => {
    const id = await runDetached(['--name', 'h9i-down', IMG, 'sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 9']);
    assert.equal(await bd.stop('SIGKILL'), null);
    writeFileSync(join(bd.dir, 'data', 'containers', id, 'bundle', 'rootfs', 'tmp', 'go'), '');
    await waitFor('the container to exit', () => existsSync(join(bd.dir, 'data', 'containers', id, 'exit.json')), 10_000);
    await bd.start();
    assert.equal(await inspect(id, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 9');
    const finished = Date.parse(await inspect(id, '{{.State.FinishedAt}}'));
    assert.ok(Date.now() - finished < 60_000, 'FinishedAt is the real exit time');
    assert.deepEqual(cgroupDirsOf(id), [], 'the runtime container was deleted at reconcile');
    await dockerOk(['rm', id]);
  });
});
