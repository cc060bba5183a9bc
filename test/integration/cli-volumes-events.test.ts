// The berth CLI's volume, events, stats, port and system df/prune verbs against a private berthd,
// each compared with what Debian's docker CLI 20.10 (/usr/bin/docker) prints against the same
// daemon: the same columns, lines, errors and exit codes (docker's name in its messages read as
// berth's). Nothing is left behind: the harness checks mounts, cgroups and processes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';

import { berthArgv } from '../fixtures/berth-cli.ts';
import { BerthdHarness, DOCKER } from '../fixtures/berthd.ts';
import { runCommand, show, type CommandResult } from '../fixtures/busybox.ts';
import { sleep } from '../fixtures/wait.ts';

const bd = new BerthdHarness({ prefix: 'h10c' });
const { docker, dockerOk, runDetached } = bd;
let IMG = '';

/** `berth -H unix://SOCK ARGS...`: the CLI talking to the harness's berthd */
function berth(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  const [cmd, ...pre] = berthArgv();
  return runCommand(cmd!, [...pre, '-H', `unix://${bd.sock}`, ...args], { label: `berth ${args.join(' ')}`, timeoutMs: opts.timeoutMs ?? 60_000, ...(opts.input !== undefined && { input: opts.input }) });
}

/** docker's result with its own name in its messages read as berth's */
const asBerth = (r: CommandResult): CommandResult => ({ ...r, stdout: r.stdout.replace(/docker/g, 'berth'), stderr: r.stderr.replace(/docker/g, 'berth') });

/** berth and docker with the same arguments (and stdin): the two results */
async function both(args: string[], opts: { input?: string } = {}): Promise<[CommandResult, CommandResult]> {
  const b = await berth(args, opts);
  const d = asBerth(await docker(args, opts));
  return [b, d];
}

/** asserts that berth did what docker did: exit code, stdout and stderr */
async function same(args: string[], opts: { input?: string } = {}): Promise<CommandResult> {
  const [b, d] = await both(args, opts);
  assert.deepEqual({ code: b.code, stdout: b.stdout, stderr: b.stderr }, { code: d.code, stdout: d.stdout, stderr: d.stderr }, `berth ${args.join(' ')}\n--- berth\n${show(b)}\n--- docker\n${show(d)}`);
  return b;
}

/**
 * As same(), for tables with durations the daemon words ("Up 1 second"): those read as T and the
 * columns' padding as one tab, since a second may pass between the two commands.
 */
async function sameBarTimes(args: string[]): Promise<CommandResult> {
  const [b, d] = await both(args);
  const norm = (t: string): string => t.replace(/(Less than a second|\d+ seconds?|About a minute)/g, 'T').replace(/ {2,}/g, '\t');
  assert.deepEqual([b.code, norm(b.stdout), b.stderr], [d.code, norm(d.stdout), d.stderr], `berth ${args.join(' ')}\n--- berth\n${show(b)}\n--- docker\n${show(d)}`);
  return b;
}

/** seconds.milliseconds, as --since/--until take a time */
const stamp = (ms: number): string => (ms / 1000).toFixed(3);

/** Runs `berth ARGS` for `ms` milliseconds, then interrupts it as Ctrl-C does: what it printed and how it ended. */
async function interrupted(argv: string[], ms: number, during?: () => Promise<void>): Promise<{ out: string; code: number | null; signal: string | null }> {
  const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const ended = new Promise<{ code: number | null; signal: string | null }>((r) => p.once('exit', (code, signal) => r({ code, signal })));
  try {
    await sleep(300);
    if (during) await during();
    await sleep(ms);
  } finally {
    p.kill('SIGINT');
  }
  return { out, ...(await ended) };
}

const berthCmd = (args: string[]): string[] => [...berthArgv(), '-H', `unix://${bd.sock}`, ...args];

describe('berth CLI: volume, events, stats, port, system df/prune as docker 20.10 prints them', { timeout: 300_000 }, () => {
  before(async () => {
    await bd.setup();
    IMG = bd.image;
  });

  after(() => bd.teardown());

  it('volume create/ls/inspect/rm/prune: the same output, errors and exit codes as docker', async () => {
    const c = await berth(['volume', 'create', '--label', 'h10c=one', 'h10c-v1']);
    assert.deepEqual([c.code, c.stdout, c.stderr], [0, 'h10c-v1\n', ''], show(c));
    const anon = await berth(['volume', 'create']);
    assert.equal(anon.code, 0, show(anon));
    assert.match(anon.stdout, /^[0-9a-f]{64}\n$/);
    assert.equal((await berth(['volume', 'create', '--name', 'h10c-v2'])).code, 0);
    assert.equal((await berth(['volume', 'create', '-d', 'local', 'h10c-v10'])).code, 0);

    const ls = await same(['volume', 'ls']);
    // natural order: v2 before v10
    assert.match(ls.stdout, /^DRIVER {4}VOLUME NAME\nlocal {5}[0-9a-f]{64}\nlocal {5}h10c-v1\nlocal {5}h10c-v2\nlocal {5}h10c-v10\n$/);
    await same(['volume', 'ls', '-q']);
    await same(['volume', 'ls', '--filter', 'label=h10c=one']);
    await same(['volume', 'ls', '-f', 'name=h10c-v1', '--format', '{{.Name}}|{{.Driver}}|{{.Scope}}|{{.Labels}}|{{.Mountpoint}}']);
    await same(['volume', 'ls', '--format', 'table {{.Name}}\t{{.Scope}}']);
    await same(['volume', 'ls', '--format', '{{json .}}', '-f', 'name=h10c-v2']);
    // a filter without `=` is docker's flag error (125), a filter the daemon refuses its error (1)
    const badFilter = await same(['volume', 'ls', '--filter', 'nope']);
    assert.equal(badFilter.code, 125);
    assert.equal((await same(['volume', 'ls', '--filter', 'colour=red'])).code, 1);
    // a label with no key is docker's flag error; a bare key has an empty value
    assert.equal((await same(['volume', 'create', '--label', '=x', 'h10c-x'])).code, 125);
    assert.equal((await same(['volume', 'create', '--label', 'a b=c', 'h10c-x'])).code, 125);
    await same(['volume', 'create', '--name', 'a', 'h10c-x']);
    await same(['volume', 'create', '--opt', 'colour=red', 'h10c-x']);
    const bare = await berth(['volume', 'create', '--label', 'h10c-bare', 'h10c-x']);
    assert.deepEqual([bare.code, bare.stdout], [0, 'h10c-x\n'], show(bare));
    assert.equal((await berth(['volume', 'inspect', '-f', '{{json .Labels}}', 'h10c-x'])).stdout, '{"h10c-bare":""}\n');
    assert.equal((await berth(['volume', 'rm', 'h10c-x'])).code, 0);

    const [bi, di] = await both(['volume', 'inspect', 'h10c-v1', 'h10c-v2']);
    assert.deepEqual([bi.code, JSON.parse(bi.stdout)], [di.code, JSON.parse(di.stdout)], show(bi));
    assert.equal(JSON.parse(bi.stdout)[0].Labels.h10c, 'one');
    await same(['volume', 'inspect', '--format', '{{.Name}} {{.Driver}} {{.Labels.h10c}}', 'h10c-v1']);
    const missing = await same(['volume', 'inspect', 'h10c-v1', 'h10c-nothere']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'Error: No such volume: h10c-nothere\n');

    // in use: rm fails with the daemon's words, -f too, for each name given; the others go
    const user = await runDetached(['--name', 'h10c-vuser', '-v', 'h10c-v1:/data', IMG, 'sleep', '1000']);
    const inUse = await berth(['volume', 'rm', 'h10c-v1', 'h10c-v10']);
    assert.equal(inUse.code, 1, show(inUse));
    assert.equal(inUse.stdout, 'h10c-v10\n');
    assert.match(inUse.stderr, /^Error response from daemon: .*h10c-v1.*in use/);
    await same(['volume', 'rm', 'h10c-v1']);
    await same(['volume', 'rm', 'h10c-nothere']);

    // prune: the question answered no, then -f; the volume in use stays
    const no = await same(['volume', 'prune'], { input: 'n\n' });
    assert.equal(no.stdout, 'WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] Total reclaimed space: 0B\n');
    const pruned = await berth(['volume', 'prune', '-f']);
    assert.equal(pruned.code, 0, show(pruned));
    assert.equal(pruned.stdout, `Deleted Volumes:\n${[anon.stdout.trim(), 'h10c-v2'].sort().join('\n')}\n\nTotal reclaimed space: 0B\n`);
    await same(['volume', 'prune', '-f']);
    await same(['volume', 'ls']);
    await dockerOk(['rm', '-f', user]);
    const rm = await berth(['volume', 'rm', 'h10c-v1']);
    assert.deepEqual([rm.code, rm.stdout], [0, 'h10c-v1\n'], show(rm));

    // docker's usage errors and help
    const unknown = await same(['volume', 'ls', '--bogus']);
    assert.deepEqual([unknown.code, unknown.stderr], [125, "unknown flag: --bogus\nSee 'berth volume ls --help'.\n"]);
    const noName = await berth(['volume', 'rm']);
    assert.equal(noName.code, 1);
    assert.match(noName.stderr, /^"berth volume rm" requires at least 1 argument\.\nSee 'berth volume rm --help'\.\n\nUsage: {2}berth volume rm \[OPTIONS\] VOLUME \[VOLUME\.\.\.\]\n/);
    const help = await berth(['volume', 'create', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: berth volume create \[OPTIONS\] \[VOLUME\]\n\nCreate a volume\n[^]*-d, --driver string {3}Specify volume driver name \(default "local"\)/);
  });

  it('events: docker\'s line format, --format and filters over a time window; live until interrupted', async () => {
    const t0 = Date.now() - 1;
    const r = await berth(['run', '--rm', '--name', 'h10c-ev', '-l', 'h10c=ev', IMG, 'sh', '-c', 'exit 2']);
    assert.equal(r.code, 2, show(r));
    const v = await berth(['volume', 'create', 'h10c-evvol']);
    assert.equal(v.code, 0, show(v));
    await berth(['volume', 'rm', 'h10c-evvol']);
    const t1 = Date.now() + 1;
    const window = ['--since', stamp(t0), '--until', stamp(t1)];
    const lines = await same(['events', ...window, '--filter', 'container=h10c-ev']);
    const actions = lines.stdout.split('\n').filter(Boolean).map((l) => l.split(' ')[2]);
    for (const a of ['create', 'start', 'die', 'destroy']) assert.ok(actions.includes(a), lines.stdout);
    assert.match(lines.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) container create [0-9a-f]{64} \(h10c=ev, image=\S+, name=h10c-ev\)\n/);
    assert.match(lines.stdout, / container die [0-9a-f]{64} \(exitCode=2, h10c=ev, image=\S+, name=h10c-ev\)\n/);
    await same(['events', ...window, '--filter', 'container=h10c-ev', '--format', '{{json .}}']);
    await same(['events', ...window, '--filter', 'type=volume', '--format', '{{.Type}} {{.Action}} {{.Actor.ID}} {{.Scope}} {{.Time}} {{.TimeNano}}']);
    await same(['system', 'events', ...window, '-f', 'event=die', '-f', 'label=h10c=ev']);
    await same(['events', '--until', stamp(t1), '--filter', 'colour=red']);
    await same(['events', '--since', stamp(t1), '--until', stamp(t0)]);
    await same(['events', '--format', '{{.Type', '--until', stamp(t1)]).then((b) => assert.equal(b.code, 64));
    await same(['events', 'extra']);

    // live: the stream stays open until Ctrl-C, and shows what happens meanwhile
    const live = await interrupted(berthCmd(['events', '--filter', 'container=h10c-live', '--format', '{{.Action}} {{.Actor.Attributes.name}}']), 500, async () => {
      const rr = await berth(['run', '--rm', '--name', 'h10c-live', IMG, 'true']);
      assert.equal(rr.code, 0, show(rr));
    });
    assert.equal(live.signal ?? String(live.code), 'SIGINT', 'ended by the interrupt, not before');
    assert.match(live.out, /^create h10c-live\n(attach h10c-live\n)?start h10c-live\ndie h10c-live\ndestroy h10c-live\n$/);
  });

  it('stats: docker\'s table and fields for --no-stream, its errors, and a live view redrawn until interrupted', async () => {
    const id = await runDetached(['--name', 'h10c-st', '--memory', '64m', IMG, 'sleep', '1000']);
    const [b, d] = await both(['stats', '--no-stream', 'h10c-st']);
    assert.equal(b.code, 0, show(b));
    assert.equal(d.code, 0, show(d));
    const [bh, brow, ...brest] = b.stdout.split('\n');
    const [dh, drow] = d.stdout.split('\n');
    assert.equal(bh, dh);
    assert.equal(bh, 'CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS');
    assert.deepEqual(brest, ['']);
    const cells = (row: string): string[] => row.split(/\s{2,}/);
    assert.equal(cells(brow!).length, cells(drow!).length);
    assert.deepEqual(cells(brow!).slice(0, 2), [id.slice(0, 12), 'h10c-st']);
    assert.match(brow!, /^[0-9a-f]{12} {3}h10c-st {3}\d+\.\d\d% +[\d.]+[KMG]?i?B \/ 64MiB +\d+\.\d\d% +[\d.]+k?B \/ [\d.]+k?B +[\d.]+[kMG]?B \/ [\d.]+[kMG]?B +1$/);
    assert.equal(cells(brow!)[3]!.split(' / ')[1], cells(drow!)[3]!.split(' / ')[1], 'the same limit');
    await same(['stats', '--no-stream', '--no-trunc', '--format', '{{.Container}} {{.Name}} {{.ID}} {{.PIDs}}', 'h10c-st', id.slice(0, 8)]);
    await same(['stats', '--no-stream', '--format', 'table {{.Name}}\t{{.PIDs}}']);
    const all = await same(['stats', '--no-stream', '-a', '--format', '{{.Name}}']);
    assert.match(all.stdout, /h10c-st\n/);
    const missing = await same(['stats', '--no-stream', 'h10c-nothere']);
    assert.equal(missing.code, 1);

    // live: the screen cleared and the table drawn over and over, as docker does
    const live = await interrupted(berthCmd(['stats', 'h10c-st']), 1500);
    assert.equal(live.signal ?? String(live.code), 'SIGINT');
    const frames = live.out.split('\u001b[2J\u001b[H').slice(1);
    assert.ok(frames.length >= 2, JSON.stringify(live.out));
    for (const f of frames) assert.match(f, new RegExp(`^CONTAINER ID +NAME .*PIDS\\n${id.slice(0, 12)} +h10c-st +`));
    await dockerOk(['rm', '-f', id]);
  });

  it('port: no bridge yet, so no mapping: docker\'s empty list and its errors', async () => {
    await runDetached(['--name', 'h10c-port', IMG, 'sleep', '1000']);
    const list = await same(['port', 'h10c-port']);
    assert.deepEqual([list.code, list.stdout], [0, '']);
    const one = await same(['port', 'h10c-port', '80']);
    assert.deepEqual([one.code, one.stderr], [1, "Error: No public port '80/tcp' published for h10c-port\n"]);
    await same(['port', 'h10c-port', '53/udp']);
    await same(['port', 'h10c-port', 'http']);
    await same(['container', 'port', 'h10c-nothere']);
    await same(['port']);
    await same(['port', 'a', 'b', 'c']);
    await dockerOk(['rm', '-f', 'h10c-port']);
  });

  it('system df (-v, --format) and system prune (-f, --volumes, the question) as docker prints them', async () => {
    const keep = await runDetached(['--name', 'h10c-df-up', '-v', 'h10c-dfvol:/data', IMG, 'sleep', '1000']);
    const stopped = await berth(['run', '--name', 'h10c-df-down', IMG, 'sh', '-c', 'echo hi > /f']);
    assert.equal(stopped.code, 0, show(stopped));
    await same(['volume', 'create', 'h10c-dfloose']);
    const df = await same(['system', 'df']);
    assert.match(df.stdout, /^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE\nImages +1 +1 +\S+ +\S+ \(\d+%\)\nContainers +2 +1 +\S+ +\S+ \(\d+%\)\nLocal Volumes +\d+ +\d+ +\S+ +\S+\nBuild Cache +0 +0 +0B +0B\n$/);
    await same(['system', 'df', '--format', '{{.Type}}: {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}']);
    await same(['system', 'df', '--format', '{{json .}}']);
    const v = await sameBarTimes(['system', 'df', '-v']);
    assert.match(v.stdout, /^Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\n/);
    assert.match(v.stdout, /\nContainers space usage:\n\nCONTAINER ID +IMAGE +COMMAND +LOCAL VOLUMES +SIZE +CREATED +STATUS +NAMES\n/);
    assert.match(v.stdout, /\nBuild cache usage: 0B\n\nCACHE ID +CACHE TYPE +SIZE +CREATED +LAST USED +USAGE +SHARED\n$/);
    await same(['system', 'df', 'x']);

    // the question, answered no: nothing goes
    const no = await same(['system', 'prune', '--volumes', '--filter', 'label=h10c=x'], { input: 'n\n' });
    assert.equal(no.stdout, [
      'WARNING! This will remove:',
      '  - all stopped containers',
      '  - all networks not used by at least one container',
      '  - all volumes not used by at least one container',
      '  - all dangling images',
      '  - all dangling build cache',
      '',
      '  Items to be pruned will be filtered with:',
      '  - label=h10c=x',
      '',
      'Are you sure you want to continue? [y/N] ',
    ].join('\n'));
    await same(['system', 'prune', '-a'], { input: 'N\n' });
    await same(['system', 'prune', '--volumes', '--filter', 'until=1h']);
    const downId = (await bd.inspect('h10c-df-down', '{{.Id}}'));
    const pruned = await berth(['system', 'prune', '-f', '--volumes']);
    assert.equal(pruned.code, 0, show(pruned));
    assert.match(pruned.stdout, new RegExp(`^Deleted Containers:\\n${downId}\\n\\nDeleted Volumes:\\nh10c-dfloose\\n\\nTotal reclaimed space: \\S+B\\n$`));
    await same(['system', 'prune', '-f', '--volumes']);
    await same(['container', 'prune', '-f']);
    assert.equal((await berth(['inspect', '--format', '{{.State.Running}}', keep])).stdout, 'true\n', 'a running container stays');
    await dockerOk(['rm', '-f', keep]);
    assert.equal((await berth(['volume', 'rm', 'h10c-dfvol'])).stdout, 'h10c-dfvol\n');
  });
});
