/**
 * berth-oci as a library: the container lifecycle of the OCI runtime spec
 * (create → created → start → running → stopped → delete), plus exec, kill and ps.
 */
import { existsSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Process, Resources, Spec, State } from './spec/types.ts';
import { ConfigError, parseSpec } from './spec/validate.ts';
import { detectLayout, resolveCgroupsPath } from './cgroups/layout.ts';
import { cgroupPids, createCgroup, removeCgroup, removeCgroupAsync, type CgroupPlacement } from './cgroups/placement.ts';
import type { CgroupLayout } from './cgroups/layout.ts';
import type { CgroupDir } from './plan/build.ts';
import { buildCreatePlan, buildExecPlan } from './plan/build.ts';
import { HelperSession, type SpawnVia } from '../native/helper.ts';
import { runHooks } from './hooks.ts';
import { RuntimeError, errnoCode } from './errors.ts';
import { NotFoundError, StateStore, isAlive, processStart, statusOf, validateId, type ContainerRecord } from './state.ts';
import { setFrozen } from './cgroups/freezer.ts';
import { applyResources, createResources, effectiveDeviceRules, mergeResources, updateWrites } from './cgroups/resources.ts';
import { applyDevices, devicesRecords } from './cgroups/v2/devices.ts';
import { oomKillCount } from './cgroups/oom.ts';
import { TraceRecorder, explain } from './trace.ts';
import type { Plan, PlanRecord } from '../native/plan.ts';
import { sleep } from './sleep.ts';
import { awaitRelease } from './fifo-release.ts';
import { unmountHostMounts } from './hostmounts.ts';
import { sharesHostMountNs } from './spec/validate.ts';
import { SeccompCache } from './seccomp-cache.ts';

export const OCI_VERSION = '1.0.2-dev';

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  /** run: the helper stays the init's parent and reports its exit status */
  foreground?: boolean;
  /**
   * berth-init is exec'd by this command (berth-monitor, see src/native/monitor.ts), which stays
   * the init's parent once berth-init's stage 0 exits (detached mode only); `session.pid` is its pid.
   */
  spawnVia?: SpawnVia;
}

export interface Created {
  rec: ContainerRecord;
  session: HelperSession;
}

function writePidFile(path: string, pid: number): void {
  const abs = resolve(path);
  writeFileSync(`${abs}.tmp`, String(pid));
  renameSync(`${abs}.tmp`, abs);
}

function idMap(m: { containerID: number; hostID: number; size: number }[] | undefined): string {
  return (m ?? []).map((x) => `${x.containerID} ${x.hostID} ${x.size}`).join('\n') + '\n';
}

/** The container's directory in each hierarchy, with the hierarchy's version (same order as the layout). */
function cgroupDirs(layout: CgroupLayout, placement: CgroupPlacement): CgroupDir[] {
  return placement.dirs.map((dir) => {
    const h = layout.hierarchies.find((x) => dir.startsWith(x.mountPoint + '/'));
    return { dir, version: h?.version ?? 1 };
  });
}

/** On a host whose devices controller is cgroup v2 only, the device rules become an eBPF program. */
function v2DeviceFilter(layout: CgroupLayout, placement: CgroupPlacement, spec: Spec): PlanRecord[] {
  if (layout.hierarchies.some((h) => h.version === 1 && h.controllers.includes('devices')) || !layout.unified) return [];
  const dir = placement.dirs.find((d) => d.startsWith(layout.unified!.mountPoint + '/'));
  return dir ? devicesRecords(dir, effectiveDeviceRules(spec)) : [];
}

/**
 * runc's rule (validate.rootfs): the rootfs path, once the bundle directory is resolved, must
 * name the directory itself, not reach it through a symlink: berth would otherwise create dev/,
 * proc/ and sys/ wherever the link points on the host.
 */
function checkRootfsPath(id: string, configPath: string, bundle: string, rootPath: string): void {
  let base = bundle;
  try {
    base = realpathSync(bundle);
  } catch { /* the config was read from it: it exists */ }
  const named = resolve(base, rootPath);
  let real: string;
  try {
    real = realpathSync(named);
  } catch (e) {
    throw new RuntimeError(`create ${id}: ${configPath}: $.root.path: invalid rootfs: ${(e as Error).message}`);
  }
  if (real !== named) {
    throw new RuntimeError(`create ${id}: ${configPath}: $.root.path: invalid rootfs: not an absolute path, or a symlink (${named} resolves to ${real})`);
  }
}

function withoutSeccomp(spec: Spec): Spec {
  if (!spec.linux?.seccomp) return spec;
  const { seccomp: _dropped, ...linux } = spec.linux;
  return { ...spec, linux };
}

export class Runtime {
  readonly store: StateStore;
  /** seccomp programs compiled by berth-init; on disk beside the containers (not an id: ids start with a letter or digit) */
  readonly seccomp: SeccompCache;

  /** `debug`, when given, receives each step of every plan before berth-init runs it */
  constructor(root: string, private readonly debug?: (msg: string) => void) {
    this.store = new StateStore(root);
    this.seccomp = new SeccompCache(`${root}/.seccomp-cache`);
  }

  /**
   * A plan that compiles its seccomp filter (`seccomp_export`, no cached program) has berth-init
   * send the program before `pid`: kept for the next container with the same profile.
   */
  private async keepProgram(session: HelperSession, plan: Plan, what: string): Promise<void> {
    const key = plan.records.find((r) => r.op === 'seccomp_export')?.args[0];
    if (key === undefined) return;
    const m = await session.expect('seccomp_program', what);
    const hex = m.fields[0] ?? '';
    const kept = /^(?:[0-9a-f]{2})+$/.test(hex) && this.seccomp.put(key, Buffer.from(hex, 'hex'));
    if (!kept) this.debug?.(`${what}: berth-init sent no valid seccomp program for ${key}: not cached`);
  }

  private debugPlan(what: string, plan: Plan): void {
    if (!this.debug) return;
    plan.records.forEach((r, i) => this.debug!(`${what}: plan[${i}] ${r.op}: ${explain(r.op, r.args)}`));
  }

  /**
   * runtime-spec state of a container. `oomKilled: true` (only when true) once the kernel's OOM
   * killer killed a process of the container: read from the memory cgroup's counters on each
   * call, not stored, so it holds from the kill until `delete` removes the cgroup.
   */
  state(id: string): State & { rootfs: string; created: string; owner: string; oomKilled?: boolean } {
    const rec = this.store.read(id);
    const status = statusOf(this.store, rec);
    const s: State & { rootfs: string; created: string; owner: string; oomKilled?: boolean } = {
      ociVersion: OCI_VERSION, id: rec.id, pid: status === 'stopped' ? 0 : rec.pid, status,
      bundle: rec.bundle, rootfs: rec.rootfs, created: rec.created, owner: rec.owner,
    };
    if (rec.annotations && Object.keys(rec.annotations).length) s.annotations = rec.annotations;
    if (oomKillCount(rec.cgroup) > 0) s.oomKilled = true;
    return s;
  }

  private hookState(rec: ContainerRecord, status: State['status']): string {
    const s: State = { ociVersion: OCI_VERSION, id: rec.id, status, pid: rec.pid, bundle: rec.bundle };
    if (rec.annotations) s.annotations = rec.annotations;
    return JSON.stringify(s);
  }

  async create(opts: CreateOptions): Promise<Created> {
    const id = validateId(opts.id);
    const bundle = resolve(opts.bundle);
    const trace = new TraceRecorder(this.store.tracePath(id));
    let t = trace.now();
    const configPath = `${bundle}/config.json`;
    let text: string;
    try {
      text = readFileSync(configPath, 'utf8');
    } catch (e) {
      throw new RuntimeError(`create ${id}: cannot read ${configPath}: ${errnoCode(e) === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    let spec: Spec;
    try {
      spec = parseSpec(text, configPath);
    } catch (e) {
      if (e instanceof ConfigError) throw new RuntimeError(`create ${id}: ${e.message}`);
      throw e;
    }
    if (!spec.root?.path) throw new RuntimeError(`create ${id}: ${configPath}: $.root.path: missing`);
    const rootfs = resolve(bundle, spec.root.path);
    try {
      if (!statSync(rootfs).isDirectory()) throw new Error('not a directory');
    } catch (e) {
      throw new RuntimeError(`create ${id}: rootfs ${rootfs}: ${errnoCode(e) === 'ENOENT' ? 'does not exist' : (e as Error).message}`);
    }
    checkRootfsPath(id, configPath, bundle, spec.root.path);
    if (sharesHostMountNs(spec.linux?.namespaces ?? []) && realpathSync(rootfs) === '/') {
      throw new RuntimeError(`create ${id}: ${configPath}: $.root.path: the host's "/" cannot be the rootfs of a container without a mount namespace: its mounts would cover the host's own /proc, /dev and /sys`);
    }
    const layout = detectLayout();
    const cgroupsPath = resolveCgroupsPath(spec.linux?.cgroupsPath, id);
    const annotations = spec.annotations;
    if (opts.spawnVia && opts.foreground) throw new RuntimeError(`create ${id}: a foreground container cannot be started through another process`);

    this.store.claim(id);
    const rec: ContainerRecord = {
      id, bundle, rootfs, pid: 0, pidStart: '', created: new Date().toISOString(), owner: '',
      cgroup: { path: cgroupsPath, dirs: [], created: [] }, spec,
    };
    if (opts.noNewKeyring) rec.noNewKeyring = true;
    if (annotations) rec.annotations = annotations;
    let session: HelperSession | undefined;
    let pid = 0;
    try {
      // the helper execs (on the other core) while we make the cgroups and compute its plan
      t = trace.now();
      session = new HelperSession({ preserveFds: opts.preserveFds ?? 0, what: `create ${id}`, spawnVia: opts.spawnVia, explain });
      if (opts.foreground) rec.helperPid = session.pid;
      const tc = trace.now();
      // the state first, naming the container's own cgroup directories: a create killed while it
      // makes them leaves a record that `delete --force` removes them by (their parents may be shared)
      const leaf = cgroupsPath.split('/').filter(Boolean).join('/');
      const own = layout.hierarchies.map((h) => `${h.mountPoint}/${leaf}`);
      // (a cgroup that exists already is someone else's: never to be removed by us)
      rec.cgroup = { path: cgroupsPath, dirs: own, created: own.filter((d) => !existsSync(d)) };
      this.store.write(rec);
      try {
        rec.cgroup = createCgroup(layout, cgroupsPath);
      } catch (e) {
        throw new RuntimeError(`create ${id}: ${(e as Error).message}`);
      }
      this.store.write(rec);
      trace.step('cgroup', tc, `mkdir ${cgroupsPath} in ${layout.hierarchies.length} hierarchies (${layout.kind})`);
      // limits before the plan goes out: the init is born in these cgroups and never runs unlimited
      const tl = trace.now();
      let warnings: string[];
      try {
        warnings = applyResources(layout, rec.cgroup, createResources(spec));
      } catch (e) {
        throw new RuntimeError(`create ${id}: ${(e as Error).message}`);
      }
      for (const w of warnings) process.stderr.write(`berth-oci: warning: ${w}\n`);
      trace.step('cgroup', tl, `linux.resources written to ${cgroupsPath}${warnings.length ? ` (${warnings.length} warnings)` : ''}`);
      let built;
      try {
        built = buildCreatePlan({
          spec, bundle, rootfs, fifoPath: this.store.fifo(id), statusPath: this.store.execStatus(id), tracePath: this.store.tracePath(id), cgroupsPath, layout,
          cgroupDirs: cgroupDirs(layout, rec.cgroup),
          deviceFilter: v2DeviceFilter(layout, rec.cgroup, spec),
          consoleSocket: opts.consoleSocket ? resolve(opts.consoleSocket) : undefined,
          preserveFds: opts.preserveFds ?? 0, noPivot: !!opts.noPivot, noNewKeyring: !!opts.noNewKeyring, id, foreground: !!opts.foreground,
          mountLog: this.store.mountLog(id), seccompCache: this.seccomp,
        });
      } catch (e) {
        throw new RuntimeError(`create ${id}: ${(e as Error).message}`);
      }
      this.debugPlan(`create ${id}`, built.plan);
      session.sendPlan(built.plan);
      trace.step('plan', tc, configPath, `${built.plan.records.length} plan records sent to berth-init ${session.pid}`);
      await this.keepProgram(session, built.plan, `create ${id}`);
      const m = await session.expect('pid', `create ${id}`);
      pid = Number(m.fields[0]);
      trace.step('spawn', t, `berth-init cloned the init: pid ${pid}`);
      if (built.userns) {
        t = trace.now();
        writeFileSync(`/proc/${pid}/uid_map`, idMap(spec.linux?.uidMappings));
        writeFileSync(`/proc/${pid}/gid_map`, idMap(spec.linux?.gidMappings));
        trace.step('userns', t, `uid_map ${idMap(spec.linux?.uidMappings).trim()}; gid_map ${idMap(spec.linux?.gidMappings).trim()}`);
      }
      rec.pid = pid;
      rec.pidStart = processStart(pid) ?? '';
      this.store.write(rec);
      if (built.plan.records.some((r) => r.op === 'wait_go')) {
        const needsState = (spec.hooks?.createContainer?.length ?? 0) + (spec.hooks?.startContainer?.length ?? 0) > 0;
        session.send(needsState ? `go\t${this.hookState(rec, 'creating')}` : 'go');
      }
      let msg = await session.next(`create ${id}`);
      if (msg.kind === 'hooks') {
        t = trace.now();
        const st = this.hookState(rec, 'creating');
        try {
          await runHooks(spec.hooks?.prestart, st);
          await runHooks(spec.hooks?.createRuntime, st);
        } catch (e) {
          throw new RuntimeError(`create ${id}: ${(e as Error).message}`);
        }
        trace.step('hooks', t, 'prestart + createRuntime hooks');
        session.send('continue');
        msg = await session.next(`create ${id}`);
      }
      if (msg.kind !== 'ready') throw new RuntimeError(`create ${id}: unexpected "${msg.kind}" from berth-init`);
      if (opts.pidFile) writePidFile(opts.pidFile, pid);
      trace.flush();
      return { rec, session };
    } catch (e) {
      trace.flush();
      if (session) {
        session.abort();
        await session.wait();
      }
      // everything in the container's cgroup goes, including an init whose pid we never learned
      for (let i = 0; i < 500; i++) {
        const left = new Set([pid, ...cgroupPids(rec.cgroup)].filter((p) => p > 0 && processStart(p) !== undefined));
        if (left.size === 0) break;
        for (const p of left) {
          try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ }
        }
        await sleep(Math.min(1 + i, 10));
      }
      session?.detach();
      try {
        await unmountHostMounts(this.store.mountLog(id), rec.rootfs, `create ${id}`);
      } catch (u) {
        process.stderr.write(`berth-oci: warning: create ${id} failed and left ${(u as Error).message}\n`);
      }
      const left = removeCgroup(rec.cgroup);
      await this.store.remove(id);
      if (left.length) process.stderr.write(`berth-oci: warning: create ${id} failed and left cgroups: ${left.join('; ')}\n`);
      throw e;
    }
  }

  private async waitGone(pid: number, start: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 1; Date.now() < deadline; delay = Math.min(delay * 2, 50)) {
      const now = processStart(pid);
      if (now === undefined || (start && now !== start)) return true;
      await sleep(delay);
    }
    return false;
  }

  /**
   * The exec fifo tells `start` where the init is. The init opens it for writing (which blocks
   * until we open it for reading), runs the startContainer hooks, writes one byte (the release),
   * loads the seccomp filter and calls execve; the write end is close-on-exec, so the fifo reaches
   * EOF when execve succeeds or when the init dies. The two are told apart by exec.status, where
   * the init writes why it is dying (a memory store, so even under a filter that denies writes).
   * The verdict is exact: released and no report means the user's program ran, even if it has
   * already exited; anything else is a failure, with the init's message.
   */
  async start(id: string): Promise<void> {
    const rec = this.store.read(id);
    const status = statusOf(this.store, rec);
    if (status === 'running') throw new RuntimeError(`cannot start an already running container`);
    if (status !== 'created') throw new RuntimeError(`cannot start a container in the ${status} state`);
    if (!rec.spec.process) throw new RuntimeError(`cannot start container ${id}: config.json has no process`);
    const fifo = this.store.fifo(id);
    const { released } = await awaitRelease(fifo, () => isAlive(rec));
    const report = this.execReport(id);
    if (report !== undefined || !released) {
      throw new RuntimeError(`cannot start container ${id}: ${report ?? 'its init exited before start'}`);
    }
    unlinkSync(fifo);
    const errors = await runHooks(rec.spec.hooks?.poststart, this.hookState(rec, 'running'), true);
    for (const e of errors) process.stderr.write(`berth-oci: warning: poststart ${e}\n`);
  }

  /** What the init wrote in exec.status before dying, if anything. */
  private execReport(id: string): string | undefined {
    let page: Buffer;
    try {
      page = readFileSync(this.store.execStatus(id));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw e;
    }
    const end = page.indexOf(0);
    const text = page.subarray(0, end < 0 ? page.length : end).toString('utf8').trim();
    return text || undefined;
  }

  kill(id: string, signal: NodeJS.Signals | number, all = false): void {
    const rec = this.store.read(id);
    const status = statusOf(this.store, rec);
    if (status === 'stopped' && !all) throw new RuntimeError(`container ${id} is not running`);
    const pids = all ? this.containerPids(rec) : [rec.pid];
    if (all && status !== 'stopped' && !pids.includes(rec.pid)) pids.push(rec.pid);
    for (const p of pids) {
      if (p <= 0) continue;
      try {
        process.kill(p, signal);
      } catch (e) {
        if (errnoCode(e) !== 'ESRCH') throw new RuntimeError(`kill ${id}: pid ${p}: ${(e as Error).message}`);
      }
    }
  }

  async delete(id: string, force = false): Promise<void> {
    let rec: ContainerRecord;
    try {
      rec = this.store.read(id);
    } catch (e) {
      // runc: --force of a container that is gone succeeds (shims and podman clean up twice);
      // a create that crashed before writing its state leaves only the directory
      if (force && e instanceof NotFoundError) {
        await this.store.remove(id);
        return;
      }
      throw e;
    }
    const status = statusOf(this.store, rec);
    if ((status === 'running' || status === 'paused') && !force) {
      throw new RuntimeError(`cannot delete container ${id} that is not stopped: ${status}`);
    }
    if (status === 'paused') await setFrozen(rec.cgroup, false);
    if (status !== 'stopped') {
      // pid 0 (a create that died before its init existed) must never reach kill(2): it means "my process group"
      for (const p of new Set([rec.pid, ...cgroupPids(rec.cgroup)])) {
        if (p <= 0) continue;
        try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      }
      if (!(await this.waitGone(rec.pid, rec.pidStart, 10000))) throw new RuntimeError(`delete ${id}: init ${rec.pid} did not exit after SIGKILL`);
    }
    // processes of a container sharing the host's pid namespace outlive its init
    for (let i = 0; i < 100; i++) {
      const left = cgroupPids(rec.cgroup);
      if (left.length === 0) break;
      for (const p of left) {
        try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      }
      await sleep(10);
    }
    // before the poststop hooks, which see the rootfs as a mount namespace's end would leave it;
    // on failure the state stays, so that `delete` can be tried again
    try {
      await unmountHostMounts(this.store.mountLog(id), rec.rootfs, `delete ${id}`);
    } catch (e) {
      throw new RuntimeError(`delete ${id}: ${(e as Error).message}`);
    }
    if (rec.pid > 0) {
      const errors = await runHooks(rec.spec.hooks?.poststop, this.hookState(rec, 'stopped'), true);
      for (const e of errors) process.stderr.write(`berth-oci: warning: poststop ${e}\n`);
    }
    const left = await removeCgroupAsync(rec.cgroup);
    await this.store.remove(id);
    if (left.length) throw new RuntimeError(`delete ${id}: cgroup directories not removed: ${left.join('; ')}`);
  }

  async pause(id: string): Promise<void> {
    const rec = this.store.read(id);
    const status = statusOf(this.store, rec);
    if (status !== 'running' && status !== 'created') throw new RuntimeError(`container ${id} is not running`);
    try {
      await setFrozen(rec.cgroup, true);
    } catch (e) {
      throw new RuntimeError(`pause ${id}: ${(e as Error).message}`);
    }
  }

  async resume(id: string): Promise<void> {
    const rec = this.store.read(id);
    if (statusOf(this.store, rec) !== 'paused') throw new RuntimeError(`container ${id} is not paused`);
    try {
      await setFrozen(rec.cgroup, false);
    } catch (e) {
      throw new RuntimeError(`resume ${id}: ${(e as Error).message}`);
    }
  }

  /**
   * runc update: merges `change` into the stored linux.resources, writes what it names to the
   * container's cgroups and saves the merged resources in state.json. Returns the warnings.
   * Device rules change only when given (runc never changes them); on v1 only the difference is
   * written, on v2 the eBPF program is replaced.
   */
  async update(id: string, change: Resources): Promise<string[]> {
    const rec = this.store.read(id);
    if (statusOf(this.store, rec) === 'stopped') throw new RuntimeError(`container ${id} is not running`);
    const linux = (rec.spec.linux ??= {});
    const merged = mergeResources(linux.resources, change);
    const writes = updateWrites(merged, change);
    const spec = { linux: { ...linux, resources: merged } };
    if (writes.devices) writes.devices = effectiveDeviceRules(spec);
    const layout = detectLayout();
    let warnings: string[];
    try {
      warnings = applyResources(layout, rec.cgroup, writes);
      const v2dir = writes.devices && !layout.hierarchies.some((h) => h.version === 1 && h.controllers.includes('devices')) && layout.unified
        ? rec.cgroup.dirs.find((d) => d.startsWith(layout.unified!.mountPoint + '/'))
        : undefined;
      if (v2dir) await applyDevices(v2dir, writes.devices!, `update ${id}`);
    } catch (e) {
      throw new RuntimeError(`update ${id}: ${(e as Error).message}`);
    }
    linux.resources = merged;
    this.store.write(rec);
    return warnings;
  }

  list(): ReturnType<Runtime['state']>[] {
    const out = [];
    for (const id of this.store.ids()) {
      try {
        out.push(this.state(id));
      } catch { /* vanished while listing */ }
    }
    return out;
  }

  pids(id: string): number[] {
    return this.containerPids(this.store.read(id));
  }

  /** The cgroup's processes, less the foreground helper that waits for the init (it is ours, not the container's). */
  private containerPids(rec: ContainerRecord): number[] {
    return cgroupPids(rec.cgroup).filter((p) => p !== rec.helperPid);
  }

  record(id: string): ContainerRecord {
    return this.store.read(id);
  }

  /**
   * Starts a process inside a created or running container; resolves with its pid.
   * `spawnVia`: berth-init is started by that command (berth-monitor), as in create.
   * `seccomp: false`: the container's filter is not loaded for this process (docker's exec --privileged).
   */
  async exec(id: string, proc: Process, opts: {
    consoleSocket?: string; pidFile?: string; preserveFds?: number; detach?: boolean; spawnVia?: SpawnVia; seccomp?: boolean;
    /** berthd holds the process's stdout/stderr (healthchecks) */
    pipes?: boolean;
    /** awaited once the helper (or `spawnVia`) is started and before berth-init gets its plan: nothing of the process has run yet */
    beforePlan?: (session: HelperSession) => Promise<void>;
  }): Promise<{ pid: number; session: HelperSession }> {
    const rec = this.store.read(id);
    const status = statusOf(this.store, rec);
    if (status !== 'running' && status !== 'created') throw new RuntimeError(`cannot exec in a ${status} container`);
    const join: { type: string; path: string }[] = [];
    const nsFile: Record<string, string> = { user: 'user', ipc: 'ipc', uts: 'uts', network: 'net', pid: 'pid', mount: 'mnt', cgroup: 'cgroup', time: 'time' };
    for (const [type, file] of Object.entries(nsFile)) {
      try {
        const theirs = statSync(`/proc/${rec.pid}/ns/${file}`).ino;
        const ours = statSync(`/proc/self/ns/${file}`).ino;
        if (theirs !== ours) join.push({ type, path: `/proc/${rec.pid}/ns/${file}` });
      } catch { /* namespace type not supported by this kernel */ }
    }
    let plan;
    try {
      plan = buildExecPlan({
        spec: opts.seccomp === false ? withoutSeccomp(rec.spec) : rec.spec,
        process: proc, pid: rec.pid, joinNamespaces: join, cgroupDirs: cgroupDirs(detectLayout(), rec.cgroup),
        keyringOf: rec.noNewKeyring ? undefined : rec.id,
        consoleSocket: opts.consoleSocket ? resolve(opts.consoleSocket) : undefined,
        preserveFds: opts.preserveFds ?? 0, foreground: !opts.detach,
        // no mount namespace to join: the process would otherwise run in the host's "/"
        chrootTo: join.some((n) => n.type === 'mount') ? undefined : rec.rootfs,
        seccompCache: this.seccomp,
      });
    } catch (e) {
      throw new RuntimeError(`exec ${id}: ${(e as Error).message}`);
    }
    if (opts.spawnVia && !opts.detach) throw new RuntimeError(`exec ${id}: a foreground process cannot be started through another process`);
    const session = new HelperSession({ preserveFds: opts.preserveFds ?? 0, what: `exec ${id}`, spawnVia: opts.spawnVia, explain, ...(opts.pipes && { pipes: true }) });
    if (opts.beforePlan) {
      try {
        await opts.beforePlan(session);
      } catch (e) {
        // berth-init, waiting for its plan, exits at the EOF of the sync socket
        session.abort();
        session.detach();
        throw e;
      }
    }
    this.debugPlan(`exec ${id}`, plan);
    session.sendPlan(plan);
    await this.keepProgram(session, plan, `exec ${id}`);
    const m = await session.expect('pid', `exec ${id}`);
    const pid = Number(m.fields[0]);
    await session.expect('ready', `exec ${id}`);
    if (opts.pidFile) writePidFile(opts.pidFile, pid);
    return { pid, session };
  }
}
