/**
 * Healthchecks (Config.Healthcheck: `--health-*` or the image's HEALTHCHECK), as dockerd runs
 * them (daemon/health.go): after each interval the test runs in the container through the
 * runtime's exec, with its output on pipes berthd holds (nothing waits synchronously); exit 0 is
 * a success, anything else (or the timeout, exit -1) a failure. State.Health keeps the status
 * (starting → healthy | unhealthy after Retries failures in a row; failures within the start
 * period do not count while it is starting), the failing streak and the last 5 results; every
 * change of status is a `health_status: STATUS` event.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';

import type { Process } from '../../runtime/spec/types.ts';
import { OciCliRuntime } from '../runtimes.ts';
import type { HealthConfig } from '../spec/docker-types.ts';
import type { ContainerContext } from './context.ts';
import type { Loaded } from './store.ts';
import { nowRfc3339, timeMs, type HealthResult } from './types.ts';

/** dockerd's defaults (nanoseconds in the config; 0 means the default) */
const DEFAULT_INTERVAL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 3;
const MAX_LOG_ENTRIES = 5;
const MAX_OUTPUT = 4096;

const ms = (ns: number | undefined, dflt: number): number => (ns && ns > 0 ? ns / 1e6 : dflt);

/** The probe's argv, or undefined when the container has no healthcheck (none, empty, or NONE). */
export function probeArgs(h: HealthConfig | null | undefined): string[] | undefined {
  const test = h?.Test ?? [];
  if (test.length === 0 || test[0] === 'NONE') return undefined;
  if (test[0] === 'CMD-SHELL') return ['/bin/sh', '-c', test.slice(1).join(' ')];
  if (test[0] === 'CMD') return test.length > 1 ? test.slice(1) : undefined;
  // docker takes a bare list as CMD-SHELL's argument
  return ['/bin/sh', '-c', test.join(' ')];
}

/** One probe: the test run in the container, its exit code and (at most 4 KiB of) its output. */
async function probe(ctx: ContainerContext, l: Loaded, args: string[], timeoutMs: number): Promise<HealthResult> {
  const start = nowRfc3339();
  const id = l.rec.id;
  let exec: Probe;
  try {
    const base = (await ctx.runtimeOf(l.rec).spec(id)).process as Process;
    exec = await startProbe(ctx, l, { ...base, terminal: false, args });
  } catch (e) {
    return { Start: start, End: nowRfc3339(), ExitCode: -1, Output: (e as Error).message };
  }
  let output = '';
  const take = (d: Buffer): void => {
    if (output.length < MAX_OUTPUT) output = (output + d.toString('utf8')).slice(0, MAX_OUTPUT);
  };
  const { child } = exec;
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  const done = await Promise.race([exec.wait(), timedOut]);
  clearTimeout(timer);
  if (done === 'timeout') {
    exec.kill();
    await exec.wait();
    return { Start: start, End: nowRfc3339(), ExitCode: -1, Output: `Health check exceeded timeout (${timeoutMs / 1000}s)` };
  }
  // the pipes' last bytes arrive with their end
  await Promise.all([child.stdout, child.stderr].map((s) => (s && !s.readableEnded ? new Promise((r) => s.once('close', r)) : undefined)));
  return { Start: start, End: nowRfc3339(), ExitCode: done.code ?? (done.signal ? 128 : 255), Output: output };
}

interface Probe {
  child: ChildProcess;
  wait(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): void;
}

/**
 * The probe's process: berth-oci's exec with pipes, or a runc-compatible runtime's foreground
 * `exec` (its pid file names the process to kill at the timeout: runc cannot pass SIGKILL on).
 */
async function startProbe(ctx: ContainerContext, l: Loaded, proc: Process): Promise<Probe> {
  const id = l.rec.id;
  const rt = ctx.runtimeOf(l.rec);
  const killPid = (pid: number): void => {
    try { process.kill(pid, 'SIGKILL'); } catch { /* exited just now */ }
  };
  if (!(rt instanceof OciCliRuntime)) {
    const { pid, session } = await ctx.runtime.exec(id, proc, { pipes: true });
    // (with pipes, Node spawns the helper itself: there is a child)
    return { child: session.child!, wait: () => session.wait(), kill: () => killPid(pid) };
  }
  const dir = await mkdtemp(join(ctx.runDir(id), 'health-'));
  const file = await rt.processFile(dir, proc);
  const pidFile = join(dir, 'pid');
  const { child } = rt.execPiped(id, file, pidFile);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', () => resolve({ code: 127, signal: null }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  }).finally(() => rm(dir, { recursive: true, force: true }).catch(() => undefined));
  return {
    child, wait: () => exited,
    kill: () => {
      const pid = Number(readFileOr(pidFile));
      if (pid > 0) killPid(pid);
      else child.kill('SIGKILL');
    },
  };
}

function readFileOr(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The healthchecks of running containers: one timer each. */
export class HealthMonitors {
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(readonly ctx: ContainerContext) {}

  /** Starts checking `l` (just started): State.Health begins as `starting`. */
  start(l: Loaded): void {
    this.stop(l.rec.id);
    const h = l.rec.config.Healthcheck;
    const args = probeArgs(h);
    if (!args) {
      delete l.rec.state.Health;
      return;
    }
    l.rec.state.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
    this.#schedule(l, args, h!);
  }

  /** Restarts the checks of a container found running at daemon start, keeping its Health. */
  resume(l: Loaded): void {
    const args = probeArgs(l.rec.config.Healthcheck);
    if (!args) return;
    l.rec.state.Health ??= { Status: 'starting', FailingStreak: 0, Log: [] };
    this.#schedule(l, args, l.rec.config.Healthcheck!);
  }

  stop(id: string): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }

  close(): void {
    for (const id of [...this.#timers.keys()]) this.stop(id);
  }

  #schedule(l: Loaded, args: string[], h: HealthConfig): void {
    const id = l.rec.id;
    const timer = setTimeout(() => {
      void this.#run(l, args, h).finally(() => {
        // stopped meanwhile (exit, rm, daemon shutdown): no next round
        if (this.#timers.get(id) === timer) this.#schedule(l, args, h);
      });
    }, ms(h.Interval, DEFAULT_INTERVAL_MS));
    timer.unref();
    this.#timers.set(id, timer);
  }

  async #run(l: Loaded, args: string[], h: HealthConfig): Promise<void> {
    const { rec } = l;
    // a frozen container cannot run its test; dockerd skips the round too
    if (rec.state.Status !== 'running' || !rec.state.Health) return;
    const result = await probe(this.ctx, l, args, ms(h.Timeout, DEFAULT_TIMEOUT_MS));
    const health = rec.state.Health;
    if (!this.#timers.has(rec.id) || rec.state.Status !== 'running' || !health) return;
    const before = health.Status;
    if (result.ExitCode === 0) {
      health.FailingStreak = 0;
      health.Status = 'healthy';
    } else {
      const inStartPeriod = before === 'starting' && Date.parse(result.Start) - timeMs(rec.state.StartedAt) < ms(h.StartPeriod, 0);
      if (!inStartPeriod) {
        health.FailingStreak++;
        if (health.FailingStreak >= (h.Retries && h.Retries > 0 ? h.Retries : DEFAULT_RETRIES)) health.Status = 'unhealthy';
      }
    }
    health.Log = [...health.Log, result].slice(-MAX_LOG_ENTRIES);
    await this.ctx.store.save(rec.id).catch((e: Error) => this.ctx.log.warn(`container ${rec.id}: saving its health: ${e.message}`));
    if (health.Status !== before) this.ctx.emit(l, `health_status: ${health.Status}`);
  }
}
