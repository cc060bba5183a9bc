// The container verbs of berth, as docker's CLI does them against the Engine API: run, create,
// start, stop, restart, kill, rm, ps, logs, wait, attach, top, rename, pause, unpause,
// container prune, exec; docker's flags, output and exit codes.
import { UsageError, bool, int, list, str, type Parsed } from '../args.ts';
import { renderFormat } from '../format.ts';
import { createdSince, ellipsis, humanSizeWithPrecision } from '../units.ts';
import { DaemonError, demux, type Client } from './client.ts';
import { wantArgs } from './command.ts';
import type { Command, CommandContext } from './command.ts';
import { pullImage } from './pull.ts';
import { CREATE_FLAGS, CREATE_HELP, RUN_FLAGS, RUN_HELP, createRequest, type CreateRequest } from './run-options.ts';
import { timeArg } from './time-arg.ts';
import { confirm } from './confirm.ts';
import { filterFlags } from './filters.ts';
import { pruneContainers, writePruned, writeTotal } from './prune-reports.ts';
import { streamStdio } from './stdio.ts';
import { displayablePorts, type ApiPort } from './ps-ports.ts';

const enc = encodeURIComponent;

interface ContainerJson {
  Id: string;
  Name: string;
  Config: { Tty: boolean; OpenStdin: boolean; AttachStdin?: boolean };
  State: { Running: boolean; Paused?: boolean; ExitCode: number };
  HostConfig?: { AutoRemove?: boolean };
}

/**
 * docker run's exit status for a start that failed: 127 for a command that is not there,
 * 126 for one that cannot be run, 125 otherwise (runStartContainerErr).
 */
function startFailureStatus(message: string): number {
  if (/executable file not found|no such file or directory|not found/i.test(message)) return 127;
  if (/permission denied|cannot execute/i.test(message)) return 126;
  return 125;
}

/** docker run's failure: `berth: MESSAGE.` on stderr and its status. */
class RunFailure extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

async function createContainer(ctx: CommandContext, client: Client, req: CreateRequest): Promise<{ Id: string; Warnings?: string[] }> {
  const create = (): Promise<{ Id: string; Warnings?: string[] }> => client.post('/containers/create', req.name !== undefined ? { name: req.name } : undefined, req.body);
  const pullQuiet = async (): Promise<void> => {
    await pullImage(ctx, req.image, { out: ctx.stderr });
  };
  if (req.pull === 'always') await pullQuiet();
  let r: { Id: string; Warnings?: string[] };
  try {
    r = await create();
  } catch (e) {
    if (!(e instanceof DaemonError) || e.status !== 404 || req.pull !== 'missing' || !/No such image/i.test(e.message)) throw e;
    ctx.stderr.write(`Unable to find image '${req.image}' locally\n`);
    await pullQuiet();
    r = await create();
  }
  for (const w of r.Warnings ?? []) ctx.stderr.write(`WARNING: ${w}\n`);
  return r;
}

async function runCmd(p: Parsed, ctx: CommandContext): Promise<number> {
  const detach = bool(p, 'detach');
  const req = createRequest(p, { detach });
  const client = await ctx.client();
  let created: { Id: string };
  try {
    created = await createContainer(ctx, client, req);
  } catch (e) {
    if (e instanceof DaemonError) throw new RunFailure(`Error response from daemon: ${e.message}`, 125);
    throw e;
  }
  const id = created.Id;
  const b = req.body;
  const tty = b.Tty === true;
  const attachStdin = b.AttachStdin === true;
  if (detach) {
    await start(client, id);
    ctx.stdout.write(`${id}\n`);
    return 0;
  }
  const autoRemove = b.HostConfig.AutoRemove === true;
  // wait before start, so that an exit (and a --rm removal) is never missed
  const waitP = client.post<{ StatusCode: number; Error?: { Message: string } | null }>(`/containers/${id}/wait`, { condition: autoRemove ? 'removed' : 'next-exit' });
  waitP.catch(() => undefined);
  const attached = b.AttachStdout === true || b.AttachStderr === true || attachStdin;
  let detached = false;
  const detachKeys = str(p, 'detach-keys');
  if (attached) {
    const { socket } = await client.hijack(`/containers/${id}/attach`, {
      query: { stream: true, stdin: attachStdin, stdout: b.AttachStdout === true, stderr: b.AttachStderr === true, ...(detachKeys !== undefined && { detachKeys }) },
    });
    let startError: Error | undefined;
    ({ detached } = await streamStdio(client, socket, { tty, stdin: attachStdin, resizePath: `/containers/${id}/resize`, ...(detachKeys !== undefined && { detachKeys }) }, async () => {
      try {
        await start(client, id);
      } catch (e) {
        startError = e as Error;
        socket.destroy();
      }
    }));
    if (startError) throw startError;
  } else await start(client, id);
  // the user typed the detach keys: the container runs on, as with docker's CLI
  if (detached) return 0;
  const w = await waitP;
  if (w.Error?.Message) ctx.stderr.write(`berth: ${w.Error.Message}\n`);
  return w.StatusCode;
}

async function start(client: Client, id: string): Promise<void> {
  try {
    await client.post(`/containers/${id}/start`);
  } catch (e) {
    if (e instanceof DaemonError) throw new RunFailure(`Error response from daemon: ${e.message}`, startFailureStatus(e.message));
    throw e;
  }
}

/** run and create print their failures as docker run does: `berth: MESSAGE.` and exit 125 (126, 127). */
function runLike(f: (p: Parsed, ctx: CommandContext) => Promise<number>): (p: Parsed, ctx: CommandContext) => Promise<number> {
  return async (p, ctx) => {
    try {
      return await f(p, ctx);
    } catch (e) {
      if (e instanceof RunFailure) {
        ctx.stderr.write(`berth: ${e.message.replace(/\.$/, '')}.\n`);
        return e.status;
      }
      throw e;
    }
  };
}

export const runCommand: Command = {
  name: 'run',
  aliases: ['container run'],
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Run a command in a new container',
  flags: RUN_FLAGS,
  flagHelp: RUN_HELP,
  stopAtPositional: true,
  failureStatus: 125,
  run: runLike(runCmd),
};

export const createCommand: Command = {
  name: 'create',
  aliases: ['container create'],
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create a new container',
  flags: CREATE_FLAGS,
  flagHelp: CREATE_HELP,
  stopAtPositional: true,
  failureStatus: 125,
  run: runLike(async (p, ctx) => {
    const req = createRequest(p, { detach: true });
    const client = await ctx.client();
    try {
      const r = await createContainer(ctx, client, req);
      ctx.stdout.write(`${r.Id}\n`);
      return 0;
    } catch (e) {
      if (e instanceof DaemonError) throw new RunFailure(`Error response from daemon: ${e.message}`, 125);
      throw e;
    }
  }),
};

/** Runs `f` on each name; docker prints each failure and exits 1 after trying them all. */
async function each(ctx: CommandContext, names: readonly string[], f: (name: string) => Promise<void>): Promise<number> {
  wantArgs(names, 1);
  let failed = false;
  for (const n of names) {
    try {
      await f(n);
    } catch (e) {
      if (!(e instanceof DaemonError)) throw e;
      ctx.stderr.write(`Error response from daemon: ${e.message}\n`);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

const simple = (name: string, summary: string, usage: string, flags: Command['flags'], f: (client: Client, n: string, p: Parsed) => Promise<void>, flagHelp?: string): Command => ({
  name: `container ${name}`,
  aliases: [name],
  usage,
  summary,
  flags,
  ...(flagHelp !== undefined && { flagHelp }),
  failureStatus: 1,
  async run(p, ctx) {
    const client = await ctx.client();
    return each(ctx, p.rest, async (n) => {
      await f(client, n, p);
      ctx.stdout.write(`${n}\n`);
    });
  },
});

export const stopCommand = simple('stop', 'Stop one or more running containers', '[OPTIONS] CONTAINER [CONTAINER...]', [{ names: ['time', 't'], kind: 'int' }],
  (c, n, p) => c.post(`/containers/${enc(n)}/stop`, p.flags.has('time') ? { t: int(p, 'time') } : undefined),
  '  -t, --time int   Seconds to wait for stop before killing it (default 10)');
export const restartCommand = simple('restart', 'Restart one or more containers', '[OPTIONS] CONTAINER [CONTAINER...]', [{ names: ['time', 't'], kind: 'int' }],
  (c, n, p) => c.post(`/containers/${enc(n)}/restart`, p.flags.has('time') ? { t: int(p, 'time') } : undefined),
  '  -t, --time int   Seconds to wait for stop before killing the container (default 10)');
export const killCommand = simple('kill', 'Kill one or more running containers', '[OPTIONS] CONTAINER [CONTAINER...]', [{ names: ['signal', 's'], kind: 'string' }],
  (c, n, p) => c.post(`/containers/${enc(n)}/kill`, { signal: str(p, 'signal') ?? 'KILL' }),
  '  -s, --signal string   Signal to send to the container (default "KILL")');
export const pauseCommand = simple('pause', 'Pause all processes within one or more containers', 'CONTAINER [CONTAINER...]', [], (c, n) => c.post(`/containers/${enc(n)}/pause`));
export const unpauseCommand = simple('unpause', 'Unpause all processes within one or more containers', 'CONTAINER [CONTAINER...]', [], (c, n) => c.post(`/containers/${enc(n)}/unpause`));
export const rmCommand: Command = {
  ...simple('rm', 'Remove one or more containers', '[OPTIONS] CONTAINER [CONTAINER...]', [{ names: ['force', 'f'], kind: 'bool' }, { names: ['volumes', 'v'], kind: 'bool' }],
    (c, n, p) => c.json('DELETE', `/containers/${enc(n)}`, { query: { force: bool(p, 'force'), v: bool(p, 'volumes') } }),
    '  -f, --force     Force the removal of a running container (uses SIGKILL)\n  -v, --volumes   Remove anonymous volumes associated with the container'),
  aliases: ['rm', 'container remove'],
};

export const startCommand: Command = {
  name: 'container start',
  aliases: ['start'],
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Start one or more stopped containers',
  flags: [{ names: ['attach', 'a'], kind: 'bool' }, { names: ['interactive', 'i'], kind: 'bool' }, { names: ['detach-keys'], kind: 'string' }],
  flagHelp: '  -a, --attach        Attach STDOUT/STDERR and forward signals\n      --detach-keys string   Override the key sequence for detaching a container\n  -i, --interactive   Attach container\'s STDIN',
  failureStatus: 1,
  async run(p, ctx) {
    const client = await ctx.client();
    if (!bool(p, 'attach') && !bool(p, 'interactive')) {
      return each(ctx, p.rest, async (n) => {
        await client.post(`/containers/${enc(n)}/start`);
        ctx.stdout.write(`${n}\n`);
      });
    }
    if (p.rest.length !== 1) throw new UsageError('you cannot start and attach multiple containers at once');
    const j = await client.get<ContainerJson>(`/containers/${enc(p.rest[0]!)}/json`);
    const stdin = bool(p, 'interactive') && j.Config.OpenStdin;
    const waitP = client.post<{ StatusCode: number }>(`/containers/${j.Id}/wait`, { condition: 'next-exit' });
    waitP.catch(() => undefined);
    const detachKeys = str(p, 'detach-keys');
    const { socket } = await client.hijack(`/containers/${j.Id}/attach`, { query: { stream: true, stdin, stdout: true, stderr: true, ...(detachKeys !== undefined && { detachKeys }) } });
    const { detached } = await streamStdio(client, socket, { tty: j.Config.Tty, stdin, resizePath: `/containers/${j.Id}/resize`, ...(detachKeys !== undefined && { detachKeys }) },
      () => client.post(`/containers/${j.Id}/start`));
    if (detached) return 0;
    return (await waitP).StatusCode;
  },
};

export const attachCommand: Command = {
  name: 'container attach',
  aliases: ['attach'],
  usage: '[OPTIONS] CONTAINER',
  summary: 'Attach local standard input, output, and error streams to a running container',
  flags: [{ names: ['detach-keys'], kind: 'string' }, { names: ['no-stdin'], kind: 'bool' }, { names: ['sig-proxy'], kind: 'bool' }],
  flagHelp: '      --detach-keys string   Override the key sequence for detaching a container\n      --no-stdin             Do not attach STDIN',
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 1, 1);
    const client = await ctx.client();
    const j = await client.get<ContainerJson>(`/containers/${enc(p.rest[0]!)}/json`);
    if (!j.State.Running) throw new Error('You cannot attach to a stopped container, start it first');
    if (j.State.Paused) throw new Error('You cannot attach to a paused container, unpause it first');
    const stdin = !bool(p, 'no-stdin') && j.Config.OpenStdin;
    const waitP = client.post<{ StatusCode: number }>(`/containers/${j.Id}/wait`, { condition: 'next-exit' });
    waitP.catch(() => undefined);
    const detachKeys = str(p, 'detach-keys');
    const { socket } = await client.hijack(`/containers/${j.Id}/attach`, { query: { stream: true, stdin, stdout: true, stderr: true, ...(detachKeys !== undefined && { detachKeys }) } });
    const { detached } = await streamStdio(client, socket, { tty: j.Config.Tty, stdin, resizePath: `/containers/${j.Id}/resize`, ...(detachKeys !== undefined && { detachKeys }) });
    if (detached) return 0;
    return (await waitP).StatusCode;
  },
};

export const waitCommand: Command = {
  name: 'container wait',
  aliases: ['wait'],
  usage: 'CONTAINER [CONTAINER...]',
  summary: 'Block until one or more containers stop, then print their exit codes',
  flags: [],
  failureStatus: 1,
  async run(p, ctx) {
    const client = await ctx.client();
    return each(ctx, p.rest, async (n) => {
      const r = await client.post<{ StatusCode: number }>(`/containers/${enc(n)}/wait`, { condition: 'not-running' });
      ctx.stdout.write(`${r.StatusCode}\n`);
    });
  },
};

export const renameCommand: Command = {
  name: 'container rename',
  aliases: ['rename'],
  usage: 'CONTAINER NEW_NAME',
  summary: 'Rename a container',
  flags: [],
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 2, 2);
    await (await ctx.client()).post(`/containers/${enc(p.rest[0]!)}/rename`, { name: p.rest[1]! });
    return 0;
  },
};

export const topCommand: Command = {
  name: 'container top',
  aliases: ['top'],
  usage: 'CONTAINER [ps OPTIONS]',
  summary: 'Display the running processes of a container',
  flags: [],
  stopAtPositional: true,
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 1);
    const [name, ...psArgs] = p.rest;
    const r = await (await ctx.client()).get<{ Titles: string[]; Processes: string[][] }>(`/containers/${enc(name!)}/top`, psArgs.length > 0 ? { ps_args: psArgs.join(' ') } : undefined);
    const lines = [r.Titles.join('\t'), ...r.Processes.map((row) => row.join('\t'))];
    const { tabwrite } = await import('../format.ts');
    ctx.stdout.write(tabwrite(`${lines.join('\n')}\n`, 1, 3));
    return 0;
  },
};

export const containerPruneCommand: Command = {
  name: 'container prune',
  usage: '[OPTIONS]',
  summary: 'Remove all stopped containers',
  flags: [{ names: ['force', 'f'], kind: 'bool' }, { names: ['filter'], kind: 'list' }],
  flagHelp: '      --filter filter   Provide filter values (e.g. \'until=<timestamp>\')\n  -f, --force           Do not prompt for confirmation',
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 0, 0);
    const filters = filterFlags(list(p, 'filter'), '--filter');
    let pruned = { space: 0, output: '' };
    if (bool(p, 'force') || await confirm(ctx, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue?')) {
      pruned = await pruneContainers(await ctx.client(), filters);
    }
    writePruned(ctx.stdout, pruned);
    writeTotal(ctx.stdout, pruned.space);
    return 0;
  },
};

export const logsCommand: Command = {
  name: 'container logs',
  aliases: ['logs'],
  usage: '[OPTIONS] CONTAINER',
  summary: 'Fetch the logs of a container',
  flags: [
    { names: ['follow', 'f'], kind: 'bool' }, { names: ['tail', 'n'], kind: 'string' }, { names: ['timestamps', 't'], kind: 'bool' },
    { names: ['since'], kind: 'string' }, { names: ['until'], kind: 'string' }, { names: ['details'], kind: 'bool' },
  ],
  flagHelp: [
    '  -f, --follow         Follow log output',
    '      --since string   Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)',
    '  -n, --tail string    Number of lines to show from the end of the logs (default "all")',
    '  -t, --timestamps     Show timestamps',
    '      --until string   Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)',
  ].join('\n'),
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 1, 1);
    const client = await ctx.client();
    const j = await client.get<ContainerJson>(`/containers/${enc(p.rest[0]!)}/json`);
    const res = await client.call('GET', `/containers/${j.Id}/logs`, {
      query: {
        stdout: true, stderr: true, follow: bool(p, 'follow'), timestamps: bool(p, 'timestamps'), details: bool(p, 'details'),
        tail: str(p, 'tail') ?? 'all', since: timeArg(str(p, 'since'), 'since'), until: timeArg(str(p, 'until'), 'until'),
      },
    });
    if (j.Config.Tty) {
      for await (const c of res) process.stdout.write(c as Buffer);
    } else await demux(res, process.stdout, process.stderr);
    return 0;
  },
};

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  Command: string;
  Created: number;
  Status: string;
  State: string;
  Ports: ApiPort[] | null;
  Labels: Record<string, string> | null;
  SizeRw?: number;
  SizeRootFs?: number;
  Mounts?: { Name?: string; Source?: string }[];
  HostConfig?: { NetworkMode?: string };
  NetworkSettings?: { Networks?: Record<string, unknown> | null } | null;
}

export const PS_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS',
  State: 'STATE', Status: 'STATUS', Size: 'SIZE', Names: 'NAMES', Labels: 'LABELS', Mounts: 'MOUNTS', Networks: 'NETWORKS',
};

/** A row of docker's container formatter. */
export function psRow(c: ContainerSummary, noTrunc: boolean): Record<string, string> {
  // names with a slash inside are links' names: docker shows the container's own
  const names = c.Names.map((n) => n.replace(/^\//, '')).filter((n) => noTrunc || !n.includes('/'));
  let image = c.Image;
  if (!noTrunc && /^sha256:[0-9a-f]{64}$/.test(image)) image = image.slice(7, 19);
  const command = noTrunc ? c.Command : ellipsis(c.Command, 20);
  const created = new Date(c.Created * 1000);
  return {
    ID: noTrunc ? c.Id : c.Id.slice(0, 12),
    Image: image,
    Command: JSON.stringify(command),
    CreatedAt: `${created.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')} +0000 UTC`,
    RunningFor: createdSince(c.Created),
    Ports: displayablePorts(c.Ports ?? []),
    State: c.State,
    Status: c.Status,
    Size: (c.SizeRootFs ?? 0) > 0 ? `${humanSizeWithPrecision(c.SizeRw ?? 0, 3)} (virtual ${humanSizeWithPrecision(c.SizeRootFs!, 3)})` : humanSizeWithPrecision(c.SizeRw ?? 0, 3),
    Names: (noTrunc ? names : names.slice(0, 1)).join(','),
    Labels: Object.entries(c.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    Mounts: (c.Mounts ?? []).map((m) => m.Name ?? m.Source ?? '').join(','),
    // docker joins the keys of a Go map, in no set order: sorted here, so that the output is stable
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).sort().join(','),
  };
}

export const psCommand: Command = {
  name: 'container ls',
  aliases: ['ps', 'container list', 'container ps'],
  usage: '[OPTIONS]',
  summary: 'List containers',
  flags: [
    { names: ['all', 'a'], kind: 'bool' }, { names: ['quiet', 'q'], kind: 'bool' }, { names: ['last', 'n'], kind: 'int' },
    { names: ['latest', 'l'], kind: 'bool' }, { names: ['size', 's'], kind: 'bool' }, { names: ['filter', 'f'], kind: 'list' },
    { names: ['format'], kind: 'string' }, { names: ['no-trunc'], kind: 'bool' },
  ],
  flagHelp: [
    '  -a, --all             Show all containers (default shows just running)',
    '  -f, --filter filter   Filter output based on conditions provided',
    '      --format string   Pretty-print containers using a Go template',
    '  -n, --last int        Show n last created containers (includes all states) (default -1)',
    '  -l, --latest          Show the latest created container (includes all states)',
    '      --no-trunc        Don\'t truncate output',
    '  -q, --quiet           Only display container IDs',
    '  -s, --size            Display total file sizes',
  ].join('\n'),
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 0, 0);
    const filters: Record<string, string[]> = {};
    for (const f of list(p, 'filter')) {
      const i = f.indexOf('=');
      if (i <= 0) throw new UsageError(`bad format of filter (expected name=value)`);
      (filters[f.slice(0, i).toLowerCase()] ??= []).push(f.slice(i + 1));
    }
    const last = p.flags.has('last') ? int(p, 'last') : bool(p, 'latest') ? 1 : -1;
    const size = bool(p, 'size');
    const all = await (await ctx.client()).get<ContainerSummary[]>('/containers/json', {
      all: bool(p, 'all'), ...(last > 0 && { limit: last }), size, filters: JSON.stringify(filters),
    });
    const noTrunc = bool(p, 'no-trunc');
    let format = str(p, 'format');
    if (bool(p, 'quiet')) format = '{{.ID}}';
    if (format === 'json') format = '{{json .}}';
    if (format === undefined || format === '' || format === 'table') {
      format = `table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}${size ? '\t{{.Size}}' : ''}`;
    }
    ctx.stdout.write(renderFormat(format, all.map((c) => psRow(c, noTrunc)), PS_HEADERS));
    return 0;
  },
};

export const execCommand: Command = {
  name: 'container exec',
  aliases: ['exec'],
  usage: '[OPTIONS] CONTAINER COMMAND [ARG...]',
  summary: 'Run a command in a running container',
  flags: [
    { names: ['interactive', 'i'], kind: 'bool' }, { names: ['tty', 't'], kind: 'bool' }, { names: ['detach', 'd'], kind: 'bool' },
    { names: ['env', 'e'], kind: 'list' }, { names: ['user', 'u'], kind: 'string' }, { names: ['workdir', 'w'], kind: 'string' },
    { names: ['privileged'], kind: 'bool' }, { names: ['detach-keys'], kind: 'string' },
  ],
  flagHelp: [
    '  -d, --detach               Detached mode: run command in the background',
    '      --detach-keys string   Override the key sequence for detaching a container',
    '  -e, --env list             Set environment variables',
    '  -i, --interactive          Keep STDIN open even if not attached',
    '      --privileged           Give extended privileges to the command',
    '  -t, --tty                  Allocate a pseudo-TTY',
    '  -u, --user string          Username or UID (format: <name|uid>[:<group|gid>])',
    '  -w, --workdir string       Working directory inside the container',
  ].join('\n'),
  stopAtPositional: true,
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 2);
    const [name, ...cmd] = p.rest as [string, ...string[]];
    const detach = bool(p, 'detach');
    const interactive = bool(p, 'interactive');
    const tty = bool(p, 'tty');
    const client = await ctx.client();
    const detachKeys = str(p, 'detach-keys');
    const { Id } = await client.post<{ Id: string }>(`/containers/${enc(name)}/exec`, undefined, {
      AttachStdin: interactive && !detach, AttachStdout: !detach, AttachStderr: !detach, Tty: tty, Cmd: cmd,
      Env: list(p, 'env'), Privileged: bool(p, 'privileged'),
      ...(str(p, 'user') !== undefined && { User: str(p, 'user') }),
      ...(str(p, 'workdir') !== undefined && { WorkingDir: str(p, 'workdir') }),
      ...(detachKeys !== undefined && { DetachKeys: detachKeys }),
    });
    if (detach) {
      await client.post(`/exec/${Id}/start`, undefined, { Detach: true, Tty: tty });
      return 0;
    }
    const { socket } = await client.hijack(`/exec/${Id}/start`, { body: { Detach: false, Tty: tty } });
    await streamStdio(client, socket, { tty, stdin: interactive, resizePath: `/exec/${Id}/resize` });
    const r = await client.get<{ ExitCode: number | null; Running: boolean }>(`/exec/${Id}/json`);
    return r.ExitCode ?? 0;
  },
};

export const versionCommand: Command = {
  name: 'version',
  usage: '[OPTIONS]',
  summary: 'Show the berth version information',
  flags: [{ names: ['format', 'f'], kind: 'string' }],
  failureStatus: 1,
  async run(p, ctx) {
    const client = await ctx.client();
    const { BERTH_VERSION, GIT_COMMIT } = await import('../../engine/version.ts');
    const server = await client.get<Record<string, string>>('/version');
    const clientInfo = { Version: BERTH_VERSION, ApiVersion: client.version, DefaultAPIVersion: '1.41', GitCommit: GIT_COMMIT, GoVersion: `node ${process.version}`, Os: 'linux', Arch: server.Arch ?? '' };
    const format = str(p, 'format');
    if (format !== undefined) {
      ctx.stdout.write(renderFormat(format, [{ Client: clientInfo, Server: server }]));
      return 0;
    }
    ctx.stdout.write([
      'Client:',
      ` Version:           ${clientInfo.Version}`,
      ` API version:       ${clientInfo.ApiVersion}`,
      ` Go version:        ${clientInfo.GoVersion}`,
      ` Git commit:        ${clientInfo.GitCommit}`,
      ` OS/Arch:           linux/${clientInfo.Arch}`,
      '',
      'Server:',
      ' Engine:',
      `  Version:          ${server.Version}`,
      `  API version:      ${server.ApiVersion} (minimum version ${server.MinAPIVersion})`,
      `  Go version:       ${server.GoVersion}`,
      `  Git commit:       ${server.GitCommit}`,
      `  Built:            ${server.BuildTime}`,
      `  OS/Arch:          ${server.Os}/${server.Arch}`,
      `  Experimental:     false`,
      '',
    ].join('\n'));
    return 0;
  },
};

export const infoCommand: Command = {
  name: 'info',
  aliases: ['system info'],
  usage: '[OPTIONS]',
  summary: 'Display system-wide information',
  flags: [{ names: ['format', 'f'], kind: 'string' }],
  failureStatus: 1,
  async run(p, ctx) {
    const info = await (await ctx.client()).get<Record<string, unknown>>('/info');
    const format = str(p, 'format');
    if (format !== undefined) {
      ctx.stdout.write(renderFormat(format === 'json' ? '{{json .}}' : format, [info]));
      return 0;
    }
    const v = (k: string): string => String(info[k] ?? '');
    ctx.stdout.write([
      'Server:',
      ` Containers: ${v('Containers')}`,
      `  Running: ${v('ContainersRunning')}`,
      `  Paused: ${v('ContainersPaused')}`,
      `  Stopped: ${v('ContainersStopped')}`,
      ` Images: ${v('Images')}`,
      ` Server Version: ${v('ServerVersion')}`,
      ` Storage Driver: ${v('Driver')}`,
      ` Logging Driver: ${v('LoggingDriver')}`,
      ` Cgroup Driver: ${v('CgroupDriver')}`,
      ` Cgroup Version: ${v('CgroupVersion')}`,
      ` Default Runtime: ${v('DefaultRuntime')}`,
      ` Kernel Version: ${v('KernelVersion')}`,
      ` Operating System: ${v('OperatingSystem')}`,
      ` OSType: ${v('OSType')}`,
      ` Architecture: ${v('Architecture')}`,
      ` CPUs: ${v('NCPU')}`,
      ` Total Memory: ${humanSizeWithPrecision(Number(info.MemTotal ?? 0), 4)}`,
      ` Name: ${v('Name')}`,
      ` Docker Root Dir: ${v('DockerRootDir')}`,
      '',
    ].join('\n'));
    return 0;
  },
};
