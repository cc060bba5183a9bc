// Runtimes and network modes through berthd, as Debian's docker CLI 20.10 drives them: a
// container per --runtime (runc, crun, a path from daemon.json `runtimes`) started under
// berth-monitor with the runtime's CLI; --network none|host|container:NAME, --pid host,
// --ipc host|container:NAME; attach's detach keys; exec events. What a user sees is asserted
// (output, exit codes, docker's messages, the interfaces a container sees), and nothing is left
// behind: no container, mount, cgroup, process, runtime state, nor the hugetlb hierarchy crun needs.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readlinkSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BerthdHarness, PYTHON } from '../fixtures/berthd.ts';
import { runCommand, show } from '../fixtures/busybox.ts';
import { sleep, waitFor } from '../fixtures/wait.ts';

// a runtime named by its path (a runc-compatible one: runc itself, under another name)
const bd = new BerthdHarness({ prefix: 'h9s', daemonJson: { runtimes: { 'h9s-runc': { path: '/usr/sbin/runc' } } } });
const { docker, dockerOk, runDetached, inspect, env } = bd;
let IMG = '';

/**
 * crun refuses this hybrid host unless hugetlb has a v1 hierarchy: one is mounted for the test
 * only if none is (as bench/lib.sh does), and unmounted once it holds only its root cgroup again
 * (a hierarchy unmounted with cgroups lingers and keeps hugetlb from cgroup2).
 */
const HUGETLB = '/sys/fs/cgroup/hugetlb';
let hugetlbMounted = false;
let hugetlbMadeDir = false;
const hugetlbPresent = (): boolean => readFileSync('/proc/self/mounts', 'utf8').split('\n')
  .some((l) => { const f = l.split(' '); return f[2] === 'cgroup' && (f[3] ?? '').split(',').includes('hugetlb'); });
const hugetlbCgroups = (): number => Number(readFileSync('/proc/cgroups', 'utf8').split('\n').find((l) => l.startsWith('hugetlb\t'))?.split('\t')[2] ?? 0);
async function hugetlbMount(): Promise<void> {
  if (hugetlbPresent()) return;
  if (!existsSync(HUGETLB)) {
    mkdirSync(HUGETLB);
    hugetlbMadeDir = true;
  }
  const r = await runCommand('mount', ['-t', 'cgroup', '-o', 'hugetlb', 'cgroup', HUGETLB]);
  assert.equal(r.code, 0, show(r));
  hugetlbMounted = true;
}
async function hugetlbUnmount(): Promise<void> {
  if (hugetlbMounted) {
    // berth's shared parent, made in it by a container of ours (rmdir fails while another uses it)
    try { rmdirSync(join(HUGETLB, 'berth')); } catch { /* absent, or in use */ }
    for (let i = 0; i < 200 && hugetlbCgroups() > 1; i++) await sleep(50);
    const r = await runCommand('umount', [HUGETLB]);
    assert.equal(r.code, 0, show(r));
    hugetlbMounted = false;
  }
  if (hugetlbMadeDir) {
    rmdirSync(HUGETLB);
    hugetlbMadeDir = false;
  }
}

describe('berthd: runtimes, network modes, attach detach keys, exec events', { timeout: 300_000 }, () => {
  before(async () => {
    await bd.setup();
    IMG = bd.image;
  });

  after(() => bd.teardown(() => {
    bd.checkClean();
    // the runtimes' state directories hold no container
    for (const r of ['runc', 'crun', 'h9s-runc']) {
      const dir = join(bd.exec, 'runtimes', r);
      if (existsSync(dir)) assert.deepEqual(readdirSync(dir), [], `${r} state left in ${dir}`);
    }
  }, hugetlbUnmount));

  it('docker info lists the runtimes truthfully; --runtime runc runs, prints and exits with the code', async () => {
    const info = JSON.parse(await dockerOk(['info', '--format', '{{json .}}'])) as { Runtimes: Record<string, { path: string }>; DefaultRuntime: string };
    assert.equal(info.DefaultRuntime, 'berth-oci');
    assert.deepEqual(Object.keys(info.Runtimes).sort(), ['berth-oci', 'crun', 'h9s-runc', 'runc']);
    assert.equal(info.Runtimes.runc!.path, '/usr/sbin/runc');
    assert.equal(info.Runtimes['h9s-runc']!.path, '/usr/sbin/runc');

    const r = await docker(['run', '--rm', '--runtime', 'runc', IMG, 'sh', '-c', 'echo hi; exit 4']);
    assert.equal(r.code, 4, `${show(r)}\n${bd.log.slice(-3000)}`);
    assert.equal(r.stdout, 'hi\n');
    assert.equal((await dockerOk(['ps', '-aq'])).trim(), '', '--rm removed it');
  });

  it('--runtime runc -d: logs, inspect, exec, top, pause, stop, rm; the runtime holds it while it runs', async () => {
    const id = await runDetached(['--runtime', 'runc', '--name', 'h9s-runc-web', IMG, 'sh', '-c', 'echo started; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done']);
    assert.equal(await inspect(id, '{{.HostConfig.Runtime}} {{.State.Status}}'), 'runc running');
    await waitFor('the first log line', async () => (await dockerOk(['logs', id])) === 'started\n');
    // runc's own state lists it, under berthd's exec root
    const st = await runCommand('runc', ['--root', join(bd.exec, 'runtimes', 'runc'), 'state', id]);
    assert.equal(st.code, 0, show(st));
    assert.equal((JSON.parse(st.stdout) as { status: string }).status, 'running');
    const pid = Number(await inspect(id, '{{.State.Pid}}'));
    assert.equal((JSON.parse(st.stdout) as { pid: number }).pid, pid);
    // exec goes through the runtime too
    const ex = await docker(['exec', id, 'sh', '-c', 'echo in-exec; exit 3']);
    assert.equal(ex.code, 3, show(ex));
    assert.equal(ex.stdout, 'in-exec\n');
    const top = await dockerOk(['top', id]);
    assert.match(top, /while :; do sleep 0.1; done/);
    await dockerOk(['pause', id]);
    assert.equal(await inspect(id, '{{.State.Status}}'), 'paused');
    await dockerOk(['unpause', id]);
    await dockerOk(['stop', '-t', '5', id]);
    assert.equal(await inspect(id, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 0');
    assert.equal(await dockerOk(['logs', id]), 'started\nbye\n');
    assert.equal(existsSync(join(bd.exec, 'runtimes', 'runc', id)), false, 'runc deleted it at its exit');
    await dockerOk(['rm', id]);
  });

  it('an unknown runtime is docker\'s error; a runtime from daemon.json runs the container', async () => {
    const r = await docker(['run', '--rm', '--runtime', 'h9s-nope', IMG, 'true']);
    assert.equal(r.code, 125, show(r));
    assert.match(r.stderr, /Error response from daemon: Unknown runtime specified h9s-nope/);
    assert.equal((await dockerOk(['ps', '-aq'])).trim(), '');
    const ok = await docker(['run', '--rm', '--runtime', 'h9s-runc', IMG, 'sh', '-c', 'echo from-path']);
    assert.equal(ok.code, 0, show(ok));
    assert.equal(ok.stdout, 'from-path\n');
    // an absolute path to a runc-compatible binary, per container
    const abs = await docker(['run', '--rm', '--runtime', '/usr/sbin/runc', IMG, 'sh', '-c', 'echo abs; exit 2']);
    assert.equal(abs.code, 2, show(abs));
    assert.equal(abs.stdout, 'abs\n');
    const plain = join(bd.dir, 'daemon.json'); // a file without an execute bit
    const notExec = await docker(['run', '--rm', '--runtime', plain, IMG, 'true']);
    assert.equal(notExec.code, 125, show(notExec));
    assert.ok(notExec.stderr.includes(`Unknown runtime specified ${plain}`), show(notExec));
  });

  it('--runtime crun runs the container (with a v1 hugetlb hierarchy for the run, removed after)', async () => {
    await hugetlbMount();
    try {
      const r = await docker(['run', '--rm', '--runtime', 'crun', IMG, 'sh', '-c', 'echo from-crun; exit 5']);
      assert.equal(r.code, 5, `${show(r)}\n${bd.log.slice(-3000)}`);
      assert.equal(r.stdout, 'from-crun\n');
    } finally {
      await hugetlbUnmount();
    }
  });

  it('--network none: loopback only, up; inspect shows docker\'s none network; -p publishes nothing there; docker port is empty', async () => {
    for (const args of [['--network', 'none']]) {
      const r = await docker(['run', '--rm', ...args, IMG, 'sh', '-c', 'cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d " "; ip -o link show lo']);
      assert.equal(r.code, 0, show(r));
      const [ifs, lo] = r.stdout.split('\n');
      assert.equal(ifs, 'lo', `only loopback: ${r.stdout}`);
      assert.match(lo!, /<LOOPBACK,UP,LOWER_UP>/);
    }
    const id = await runDetached(['--name', 'h9s-none', '--network', 'none', '-p', '8080:80', IMG, 'sleep', '1000']);
    const nets = JSON.parse(await inspect(id, '{{json .NetworkSettings.Networks}}')) as Record<string, { NetworkID: string; EndpointID: string }>;
    assert.deepEqual(Object.keys(nets), ['none']);
    assert.match(nets.none!.NetworkID, /^[0-9a-f]{64}$/);
    assert.equal(await inspect(id, '{{json .NetworkSettings.Ports}}'), '{}');
    const port = await docker(['port', id]);
    assert.equal(port.code, 0, show(port));
    assert.equal(port.stdout, '', 'no port is published on the none network');
    assert.match((await dockerOk(['ps', '--format', '{{.Networks}}', '--filter', `id=${id}`])).trim(), /^none$/);
    await dockerOk(['rm', '-f', id]);
  });

  it('--network host: the host\'s interfaces and hostname; -p is discarded with docker\'s warning', async () => {
    const hostIfs = readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean).sort();
    const r = await docker(['run', '--rm', '--network', 'host', '-p', '9999:9999', IMG, 'sh', '-c', 'cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d " "; echo "host=$(hostname)"']);
    assert.equal(r.code, 0, show(r));
    const lines = r.stdout.trim().split('\n');
    const hn = lines.pop()!;
    assert.deepEqual(lines.sort(), hostIfs);
    assert.equal(hn, `host=${osHostname()}`);
    assert.match(r.stderr, /WARNING: Published ports are discarded when using host network mode/);
    const id = await runDetached(['--network', 'host', IMG, 'sleep', '1000']);
    assert.deepEqual(Object.keys(JSON.parse(await inspect(id, '{{json .NetworkSettings.Networks}}')) as object), ['host']);
    assert.equal(await inspect(id, '{{.HostConfig.NetworkMode}}'), 'host');
    await dockerOk(['rm', '-f', id]);
  });

  it('--network container:NAME shares NAME\'s namespace (a port listened to in one is reached on 127.0.0.1 from the other); NAME must be running', async () => {
    const a = await runDetached(['--name', 'h9s-neta', IMG, 'sh', '-c', 'while :; do echo from-a | nc -l -p 7777; done']);
    const aNet = (await runCommand('readlink', [`/proc/${await inspect(a, '{{.State.Pid}}')}/ns/net`])).stdout.trim();
    const b = await runDetached(['--name', 'h9s-netb', '--network', 'container:h9s-neta', IMG, 'sleep', '1000']);
    assert.equal((await runCommand('readlink', [`/proc/${await inspect(b, '{{.State.Pid}}')}/ns/net`])).stdout.trim(), aNet, 'one network namespace');
    await waitFor('the listener in a, reached from b', async () => (await docker(['exec', b, 'nc', '127.0.0.1', '7777'])).stdout === 'from-a\n', 10_000);
    assert.deepEqual(JSON.parse(await inspect(b, '{{json .NetworkSettings.Networks}}')), {});
    assert.equal(await inspect(b, '{{.Config.Hostname}}'), a.slice(0, 12), 'the hostname of the container whose network it shares');
    // a one-off run in it too
    const r = await docker(['run', '--rm', '--network', 'container:h9s-neta', IMG, 'nc', '127.0.0.1', '7777']);
    assert.equal(r.stdout, 'from-a\n', show(r));
    // docker's refusals
    const h = await docker(['run', '--rm', '--network', 'container:h9s-neta', '-h', 'x', IMG, 'true']);
    assert.equal(h.code, 125, show(h));
    assert.match(h.stderr, /conflicting options: hostname and the network mode/);
    const none = await docker(['run', '--rm', '--network', 'container:h9s-nosuch', IMG, 'true']);
    assert.equal(none.code, 125, show(none));
    assert.match(none.stderr, /No such container: h9s-nosuch/);
    await dockerOk(['stop', '-t', '0', 'h9s-netb']);
    await dockerOk(['stop', '-t', '0', 'h9s-neta']);
    const st = await docker(['start', 'h9s-netb']);
    assert.equal(st.code, 1, show(st));
    assert.ok(st.stderr.includes(`cannot join network of a non running container: ${a}`), show(st));
    // once the other runs again, its new namespace is the one joined
    await dockerOk(['start', 'h9s-neta']);
    await dockerOk(['start', 'h9s-netb']);
    const aNet2 = (await runCommand('readlink', [`/proc/${await inspect(a, '{{.State.Pid}}')}/ns/net`])).stdout.trim();
    assert.equal((await runCommand('readlink', [`/proc/${await inspect(b, '{{.State.Pid}}')}/ns/net`])).stdout.trim(), aNet2);
    await dockerOk(['rm', '-f', b, a]);
  });

  it('--pid host and --ipc host|container:NAME', async () => {
    const self = (p: string): string => readlinkSync(`/proc/self/ns/${p}`);
    const r = await docker(['run', '--rm', '--pid', 'host', '--ipc', 'host', IMG, 'sh', '-c', 'readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc']);
    assert.equal(r.code, 0, show(r));
    const [pidNs, ipcNs] = r.stdout.split('\n');
    assert.equal(pidNs, self('pid'));
    assert.equal(ipcNs, self('ipc'));
    const a = await runDetached(['--name', 'h9s-ipca', IMG, 'sleep', '1000']);
    const aIpc = (await runCommand('readlink', [`/proc/${await inspect(a, '{{.State.Pid}}')}/ns/ipc`])).stdout.trim();
    const j = await docker(['run', '--rm', '--ipc', 'container:h9s-ipca', '--pid', 'container:h9s-ipca', IMG, 'sh', '-c', 'readlink /proc/self/ns/ipc; ps -o comm | grep -c sleep']);
    assert.equal(j.code, 0, show(j));
    const [ipc, sleeps] = j.stdout.split('\n');
    assert.equal(ipc, aIpc);
    assert.equal(sleeps, '1', 'the other container\'s processes are visible');
    await dockerOk(['rm', '-f', a]);
  });

  it('attach: the detach keys (ctrl-p,ctrl-q, or detachKeys) end the client\'s stream and leave the container running (SDK socket)', async () => {
    const id = await runDetached(['-it', '--name', 'h9s-att', IMG, 'sh']);
    for (const [keys, seq, marker] of [['', '\\x10\\x11', 'dflt'], ['ctrl-x,x', '\\x18x', 'custom']] as const) {
      const r = await runCommand(PYTHON, ['-c', `
import docker
api = docker.from_env().api
params = {'stdin': 1, 'stdout': 1, 'stream': 1${keys === '' ? '' : `, 'detachKeys': '${keys}'`}}
s = api.attach_socket('h9s-att', params=params)._sock
s.sendall(b'echo h9s-${marker} > /tmp/${marker}\\n')
s.sendall(b'${seq}')
s.settimeout(10)
while s.recv(4096):
    pass
print(api.inspect_container('h9s-att')['State']['Running'])
`], { env: env(), label: 'python3 docker SDK', timeoutMs: 30_000 });
      assert.equal(r.code, 0, show(r) + bd.log.slice(-3000));
      assert.equal(r.stdout.trim(), 'True', 'the container runs on after the detach');
      const got = await waitFor('the line the shell ran', async () => (await docker(['exec', id, 'cat', `/tmp/${marker}`])).stdout || false, 5000);
      assert.equal(got, `h9s-${marker}\n`);
    }
    const bad = await runCommand(PYTHON, ['-c', `
import docker
try:
    docker.from_env().api.attach_socket('h9s-att', params={'stdin': 1, 'stream': 1, 'detachKeys': 'ctrl-1'})
except docker.errors.APIError as e:
    print(e.response.status_code, e.explanation)
`], { env: env(), label: 'python3 docker SDK', timeoutMs: 30_000 });
    assert.match(bad.stdout, /^400 .*ctrl-1/, show(bad));
    assert.equal(await inspect(id, '{{.State.Running}}'), 'true');
    await dockerOk(['rm', '-f', id]);
  });

  it('exec emits docker\'s events: exec_create and exec_start naming the command, exec_die with the exit code', async () => {
    const id = await runDetached(['--name', 'h9s-ev', IMG, 'sleep', '1000']);
    const since = Math.floor(Date.now() / 1000) - 1;
    const ex = await docker(['exec', id, 'sh', '-c', 'exit 3']);
    assert.equal(ex.code, 3, show(ex));
    const until = Math.ceil(Date.now() / 1000) + 1;
    const out = await dockerOk(['events', '--since', String(since), '--until', String(until), '--filter', `container=${id}`, '--filter', 'event=exec_create',
      '--filter', 'event=exec_start', '--filter', 'event=exec_die', '--format', '{{.Type}} {{.Action}} {{json .Actor.Attributes}}']);
    const lines = out.trim().split('\n').map((l) => {
      const sp = l.indexOf(' {');
      return { head: l.slice(0, sp), attrs: JSON.parse(l.slice(sp + 1)) as Record<string, string> };
    });
    assert.deepEqual(lines.map((l) => l.head), ['container exec_create: sh -c exit 3', 'container exec_start: sh -c exit 3', 'container exec_die'], out);
    const execId = lines[0]!.attrs.execID!;
    assert.match(execId, /^[0-9a-f]{64}$/);
    for (const l of lines) {
      assert.equal(l.attrs.execID, execId);
      assert.equal(l.attrs.name, 'h9s-ev');
      assert.equal(l.attrs.image, IMG);
    }
    assert.equal(lines[2]!.attrs.exitCode, '3');
    await dockerOk(['rm', '-f', id]);
  });
});
