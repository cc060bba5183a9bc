// docker exec through berthd as real clients drive it: Debian's docker CLI 20.10 (/usr/bin/docker)
// and Docker SDK for Python (/usr/bin/python3) against a private berthd (dist/berthd.js), with a
// busybox image from Debian's docker-registry on 127.0.0.1. What a user sees is asserted: output,
// exit codes, the process's user, env, cwd, terminal and capabilities, docker's error messages,
// ExecInspect; and that a client going mid-exec leaves no process behind. Nothing is left: the
// containers are removed, the daemon stopped, no exec monitor, mount, cgroup or process remains.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { BerthdHarness, DOCKER, processesNaming } from '../fixtures/berthd.ts';
import { runCommand, show } from '../fixtures/busybox.ts';
import { alive } from '../fixtures/host.ts';
import { sleep, waitFor } from '../fixtures/wait.ts';

const bd = new BerthdHarness({ prefix: 'h9k', imageEnv: ['PATH=/bin:/sbin:/usr/bin', 'H9K_IMAGE=yes'] });
const { docker, dockerOk, runDetached, python, inspect, env } = bd;
let IMG = '';

/** a raw API call on berthd's socket: status and parsed JSON body */
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await bd.http(method, path, body === undefined ? undefined : JSON.stringify(body));
  return { status: r.status, json: r.body.trim() === '' ? undefined : JSON.parse(r.body) };
}

/** host pids of processes whose command line contains `marker` */
function processesWith(marker: string): number[] {
  return processesNaming(marker);
}

describe('berthd: docker exec for the docker CLI and the Python SDK', { timeout: 300_000 }, () => {
  let C = '';

  before(async () => {
    await bd.setup();
    IMG = bd.image;
    C = await runDetached(['--name', 'h9k-exec', '-e', 'H9K_CTR=ctr', IMG, 'sleep', '100000']);
  });

  after(() => bd.teardown(() => {
    bd.checkClean();
    assert.deepEqual(processesNaming(`${bd.exec}/exec/`), [], 'exec monitors left behind');
  }));

  it('docker exec prints the output, keeps stderr apart and propagates the exit code; a missing command is 126', async () => {
    const hi = await docker(['exec', 'h9k-exec', 'echo', 'hi']);
    assert.equal(hi.code, 0, show(hi));
    assert.equal(hi.stdout, 'hi\n');
    const five = await docker(['exec', 'h9k-exec', 'sh', '-c', 'echo out; echo err >&2; exit 5']);
    assert.equal(five.code, 5, show(five));
    assert.equal(five.stdout, 'out\n');
    assert.equal(five.stderr, 'err\n');
    const missing = await docker(['exec', 'h9k-exec', 'h9k-no-such-command']);
    assert.equal(missing.code, 126, show(missing));
    assert.match(missing.stdout + missing.stderr, /h9k-no-such-command/);
  });

  it('exec -e, -u, -w: the container\'s env plus -e, the user resolved in the container, the working directory', async () => {
    const env = (await dockerOk(['exec', '-e', 'H9K_X=from-exec', '-e', 'H9K_CTR=replaced', 'h9k-exec', 'env'])).split('\n');
    assert.ok(env.includes('H9K_X=from-exec'), env.join('\n'));
    assert.ok(env.includes('H9K_CTR=replaced'), env.join('\n'));
    assert.ok(env.includes('H9K_IMAGE=yes'), env.join('\n'));
    assert.ok(env.includes('PATH=/bin:/sbin:/usr/bin'), env.join('\n'));
    assert.ok(env.includes(`HOSTNAME=${C.slice(0, 12)}`), env.join('\n'));
    assert.ok(!env.some((e) => e.startsWith('TERM=')), 'no TERM without -t');
    assert.equal(await dockerOk(['exec', '-u', 'nobody', 'h9k-exec', 'id', '-u']), '65534\n');
    assert.match(await dockerOk(['exec', '-u', 'nobody', 'h9k-exec', 'id']), /^uid=65534\(nobody\) gid=65534\(nogroup\)/);
    assert.equal(await dockerOk(['exec', '-u', '1000:1000', 'h9k-exec', 'id', '-u']), '1000\n');
    const nouser = await docker(['exec', '-u', 'h9k-nobody-here', 'h9k-exec', 'id']);
    assert.notEqual(nouser.code, 0, show(nouser));
    assert.match(nouser.stderr + nouser.stdout, /unable to find user h9k-nobody-here/);
    assert.equal(await dockerOk(['exec', '-w', '/tmp', 'h9k-exec', 'pwd']), '/tmp\n');
    assert.equal(await dockerOk(['exec', 'h9k-exec', 'pwd']), '/\n');
  });

  it('exec -d runs the process in the background; exec -i relays stdin', async () => {
    const d = await docker(['exec', '-d', 'h9k-exec', 'sh', '-c', 'sleep 0.3; echo done > /tmp/h9k-d']);
    assert.equal(d.code, 0, show(d));
    assert.equal(d.stdout, '');
    await waitFor('the detached exec to write its file', async () => (await docker(['exec', 'h9k-exec', 'cat', '/tmp/h9k-d'])).stdout === 'done\n', 10_000);
    const i = await docker(['exec', '-i', 'h9k-exec', 'cat'], { input: 'hi from stdin\n' });
    assert.equal(i.code, 0, show(i));
    assert.equal(i.stdout, 'hi from stdin\n');
    const wc = await docker(['exec', '-i', 'h9k-exec', 'wc', '-c'], { input: 'x'.repeat(200_000) });
    assert.equal(wc.stdout.trim(), '200000', show(wc));
  });

  it('exec -it runs the process on a pty of the size of the client\'s terminal', async () => {
    const r = await runCommand('script', ['-qec', `stty rows 33 cols 101; ${DOCKER} exec -it h9k-exec sh -c 'sleep 1; tty; stty size; echo TERM=$TERM'`, '/dev/null'],
      { env: env(), label: 'script docker exec -it', timeoutMs: 30_000 });
    assert.equal(r.code, 0, show(r));
    const out = r.stdout.replace(/\r/g, '');
    // (script echoes the EOF of its own stdin as ^@ on the host's pty, before the output)
    assert.match(out, /\/dev\/pts\/\d+$/m, out);
    assert.match(out, /^33 101$/m, out);
    assert.match(out, /^TERM=xterm$/m, out);
  });

  it('exec --privileged has every capability and no seccomp filter; a plain exec has the container\'s', async () => {
    const status = async (priv: boolean): Promise<string> => dockerOk(['exec', ...(priv ? ['--privileged'] : []), 'h9k-exec', 'grep', '-E', '^(CapEff|Seccomp):', '/proc/self/status']);
    const plain = await status(false);
    assert.match(plain, /^CapEff:\s+00000000a80425fb$/m, plain);
    assert.match(plain, /^Seccomp:\s+2$/m, plain);
    const hostBnd = /^CapBnd:\s+([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
    const priv = await status(true);
    assert.match(priv, new RegExp(`^CapEff:\\s+${hostBnd}$`, 'm'), priv);
    assert.match(priv, /^Seccomp:\s+0$/m, priv);
  });

  it('the Python SDK: exec_run returns the exit code and the output', async () => {
    const r = await python(`
import docker
c = docker.from_env().containers.get('h9k-exec')
res = c.exec_run(['sh', '-c', 'echo out; exit 3'])
print(res.exit_code, repr(res.output))
res = c.exec_run('id -u', user='nobody', environment={'A': 'b'})
print(res.exit_code, repr(res.output))
res = c.exec_run(['sh', '-c', 'echo $A'], environment={'A': 'b'}, workdir='/tmp')
print(res.exit_code, repr(res.output))
`);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(r.stdout.trim().split('\n'), ["3 b'out\\n'", "0 b'65534\\n'", "0 b'b\\n'"]);
  });

  it('exec in a stopped or paused container, an unknown exec instance: docker\'s errors', async () => {
    const stopped = await runDetached(['--name', 'h9k-stopped', IMG, 'true']);
    await dockerOk(['wait', stopped]);
    const r = await docker(['exec', 'h9k-stopped', 'echo', 'hi']);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, new RegExp(`Error response from daemon: Container ${stopped} is not running`));
    const create = await api('POST', `/v1.41/containers/${stopped}/exec`, { Cmd: ['true'] });
    assert.equal(create.status, 409);
    await dockerOk(['rm', stopped]);

    await dockerOk(['pause', 'h9k-exec']);
    try {
      const p = await docker(['exec', 'h9k-exec', 'echo', 'hi']);
      assert.equal(p.code, 1, show(p));
      assert.match(p.stderr, new RegExp(`Container ${C} is paused, unpause the container before exec`));
    } finally {
      await dockerOk(['unpause', 'h9k-exec']);
    }
    const unknown = await api('GET', '/v1.41/exec/h9k-no-such-exec/json');
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.json, { message: 'No such exec instance: h9k-no-such-exec' });
    const noCmd = await api('POST', `/v1.41/containers/${C}/exec`, { Cmd: [] });
    assert.equal(noCmd.status, 400);
    const badEnv = await api('POST', `/v1.41/containers/${C}/exec`, { Cmd: ['true'], Env: [1] });
    assert.equal(badEnv.status, 400);
    assert.match(badEnv.json.message, /Env\[0\]: want a string/);
  });

  it('GET /exec/{id}/json: docker\'s ExecInspect while it runs and after it exited; a second start is a conflict', async () => {
    const made = await api('POST', `/v1.41/containers/${C}/exec`, { Cmd: ['sh', '-c', 'sleep 0.5; exit 7'], User: 'nobody', AttachStdout: true });
    assert.equal(made.status, 201, JSON.stringify(made.json));
    const id = made.json.Id as string;
    assert.match(id, /^[0-9a-f]{64}$/);
    const before = (await api('GET', `/v1.41/exec/${id}/json`)).json;
    assert.equal(before.Running, false);
    assert.equal(before.ExitCode, null);
    const start = await api('POST', `/v1.41/exec/${id}/start`, { Detach: true });
    assert.equal(start.status, 200);
    const running = (await api('GET', `/v1.41/exec/${id}/json`)).json;
    assert.equal(running.Running, true);
    assert.ok(running.Pid > 0 && alive(running.Pid), 'Pid is the process on the host');
    assert.deepEqual((await api('GET', `/v1.41/containers/${C}/json`)).json.ExecIDs, [id], 'the container lists its running exec');
    const again = await api('POST', `/v1.41/exec/${id}/start`, { Detach: true });
    assert.equal(again.status, 409);
    const done = await waitFor('the exec to exit', async () => {
      const j = (await api('GET', `/v1.41/exec/${id}/json`)).json;
      return j.Running ? false : j;
    }, 10_000);
    assert.deepEqual({ ...done, Pid: 0 }, {
      ID: id, Running: false, ExitCode: 7,
      ProcessConfig: { tty: false, entrypoint: 'sh', arguments: ['-c', 'sleep 0.5; exit 7'], privileged: false, user: 'nobody' },
      OpenStdin: false, OpenStderr: false, OpenStdout: true, CanRemove: true, ContainerID: C, DetachKeys: '', Pid: 0,
    });
    assert.equal((await api('GET', `/v1.41/containers/${C}/json`)).json.ExecIDs, null);
  });

  it('the detach keys sent on an exec -it stream end the stream and leave the process running (SDK socket)', async () => {
    for (const [keys, first, seq] of [['', '\\x10', '\\x10\\x11'], ['ctrl-x,x', '\\x18', '\\x18x']] as const) {
      const marker = `h9k-detach-${keys === '' ? 'default' : 'custom'}`;
      const r = await python(`
import docker, time
api = docker.from_env().api
e = api.exec_create('h9k-exec', ['sh', '-c', 'read line; echo "$line" > /tmp/${marker}; cat; : ${marker}'], stdin=True, tty=True${keys === '' ? '' : `, detach_keys='${keys}'`})
s = api.exec_start(e['Id'], tty=True, socket=True)._sock
time.sleep(0.5)
s.sendall(b'a${first}b\\n${seq}')
s.settimeout(10)
while s.recv(4096):
    pass
i = api.exec_inspect(e['Id'])
print(i['Running'], i['Pid'])
`);
      assert.equal(r.code, 0, show(r) + bd.log.slice(-3000));
      const [running, pid] = r.stdout.trim().split(' ');
      assert.equal(running, 'True', 'the exec runs on after the detach');
      assert.ok(alive(Number(pid)));
      // a key that only began the sequence was passed on once the next one broke it
      const got = await waitFor('the line the process read', async () => (await docker(['exec', 'h9k-exec', 'cat', `/tmp/${marker}`])).stdout || false, 5000);
      assert.equal(got, `a${first === '\\x10' ? '\x10' : '\x18'}b\n`);
      process.kill(Number(pid), 'SIGKILL');
      await waitFor('the detached process and its monitor to go', () => !alive(Number(pid)) && processesNaming(`${bd.exec}/exec/`).length === 0, 10_000);
      assert.deepEqual(processesWith(marker), []);
    }
  });

  it('a client killed in the middle of exec -i or exec -it leaves no process behind', async () => {
    for (const tty of [false, true]) {
      const marker = `h9k-gone-${tty ? 'tty' : 'pipe'}`;
      const cmd = `${DOCKER} exec -i${tty ? 't' : ''} h9k-exec sh -c 'cat; : ${marker}'`;
      const client = tty
        ? spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, ...env() }, stdio: ['pipe', 'ignore', 'ignore'], detached: true })
        : spawn('sh', ['-c', cmd], { env: { ...process.env, ...env() }, stdio: ['pipe', 'ignore', 'ignore'], detached: true });
      const pids = await waitFor(`the exec'd process (${marker})`, () => {
        const p = processesWith(marker).filter((x) => {
          try {
            return x !== client.pid && !readFileSync(`/proc/${x}/cmdline`, 'utf8').includes('docker');
          } catch {
            return false;
          }
        });
        return p.length > 0 ? p : false;
      }, 15_000, () => bd.log.slice(-2000));
      const exited = new Promise((r) => client.once('exit', r));
      process.kill(-client.pid!, 'SIGKILL');
      await exited;
      client.stdin!.destroy();
      await waitFor(`the exec'd process to go with its client (${marker})`, () => pids.every((p) => !alive(p)), 10_000);
      await waitFor('its monitor to go', () => processesNaming(`${bd.exec}/exec/`).length === 0, 10_000);
    }
    assert.equal((await dockerOk(['inspect', '-f', '{{.State.Running}}', 'h9k-exec'])).trim(), 'true');
  });
});
