/**
 * `berth explain`'s text: the seed's "What docker run actually does" for one container, each of
 * the 9 steps with its real values and time, and under it the runtime's trace lines that belong
 * to it (runs of one call, such as the seccomp rules, folded into one line with a count).
 * A pure function of the API's answer.
 */
import type { Explanation, TraceEntry } from '../engine/containers/explain-types.ts';

const ms = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`);

function size(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

const short = (d: string): string => d.replace(/^sha256:([0-9a-f]{12})[0-9a-f]*$/, 'sha256:$1');
const list = (xs: readonly string[]): string => (xs.length ? xs.join(', ') : 'none');
const limit = (v: number | string | null, fmt: (x: number) => string = String): string => (v === null ? 'unlimited' : typeof v === 'string' ? v : fmt(v));

/** Trace lines of one step, consecutive calls of the same kind folded into one with a count. */
function traceLines(entries: readonly TraceEntry[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < entries.length;) {
    const e = entries[i]!;
    let j = i + 1;
    while (j < entries.length && entries[j]!.step === e.step) j++;
    const n = j - i;
    const took = entries.slice(i, j).reduce((a, x) => a + x.tookMs, 0);
    const fail = entries.slice(i, j).some((x) => x.result < 0) ? '  (failed)' : '';
    const what = n > 1 ? `x${n}, first: ${e.detail}` : e.detail;
    out.push(`+${e.atMs.toFixed(3).padStart(8)}  ${took.toFixed(3).padStart(7)}  ${e.step.padEnd(14)} ${what}${fail}`);
    i = j;
  }
  return out;
}

export function formatExplanation(x: Explanation): string {
  const L: string[] = [];
  const s = x.steps;
  const head = (n: number, title: string, took: number | null): void => {
    L.push('');
    L.push(`${`${n}. ${title}`.padEnd(60)} ${ms(took).padStart(10)}`);
  };
  const kv = (k: string, v: string): void => {
    L.push(`   ${k.padEnd(10)} ${v}`);
  };
  const trace = (n: number): void => {
    const t = x.trace.filter((e) => e.seedStep === n);
    if (t.length === 0) return;
    L.push(`   trace      AT(ms)   TOOK(ms)  STEP           WHAT`);
    for (const line of traceLines(t)) L.push(`     ${line}`);
  };

  L.push(`Container ${x.name} (${x.id.slice(0, 12)}): ${x.status}${x.pid ? `, pid ${x.pid}` : ''}${x.exitCode !== null ? `, exit code ${x.exitCode}` : ''}`);
  L.push(x.live
    ? 'Values read from the running container: /proc, its cgroup files, the mount table, the image store and the creation trace.'
    : 'Not running: values from the creation trace kept at its last start, its config.json, the mount table and the image store.');
  const st = x.startup;
  L.push(`create ${ms(st.createMs)} (${st.create.map((p) => `${p.name} ${ms(p.ms)}`).join(', ') || '-'})`);
  L.push(`start  ${ms(st.startMs)} (${st.start.map((p) => `${p.name} ${ms(p.ms)}`).join(', ') || '-'})`);
  if (st.startToExecMs !== null) L.push(`start request -> execve ${ms(st.startToExecMs)}${st.createToExecMs !== null ? `; create request -> execve ${ms(st.createToExecMs)}` : ''}`);

  head(1, s.image.title, s.image.tookMs);
  kv('image', s.image.requested === s.image.name ? s.image.name : `${s.image.requested} (${s.image.name})`);
  kv('id', s.image.id);
  if (s.image.manifestDigest) kv('manifest', s.image.manifestDigest);
  for (const l of s.image.layers) {
    kv(`layer ${l.index}`, `diff_id ${short(l.diffId)}  chain ${short(l.chainId)}  ${size(l.compressedSize)} compressed, ${size(l.size)} unpacked${l.present ? '' : ' (snapshot missing)'}`);
    kv('', l.dir);
  }

  head(2, s.directory.title, s.directory.tookMs);
  kv('dir', s.directory.dir);
  kv('bundle', `${s.directory.bundle} (${s.directory.configJson})`);
  kv('log', s.directory.logPath);
  kv('run', s.directory.runDir);
  kv('runtime', s.directory.runtimeStateDir);
  trace(2);

  head(3, s.namespaces.title, s.namespaces.tookMs);
  if (s.namespaces.clone) kv('call', s.namespaces.clone);
  for (const n of s.namespaces.namespaces) {
    const ino = n.inode !== null ? `  ${n.type}:[${n.inode}]${n.mode !== 'host' ? `, host ${n.type}:[${n.hostInode}]` : ''}` : '';
    kv(n.type, `${n.mode === 'joined' ? `joined ${n.joined}` : n.mode === 'host' ? "the host's" : 'new'}${ino}`);
  }
  kv('from', s.namespaces.source);
  trace(3);

  const c = s.cgroups;
  head(4, `${c.title} (cgroup ${c.layout})`, c.tookMs);
  kv('path', c.cgroupsPath);
  for (const p of c.paths) kv(p.hierarchy, p.dir);
  const lim = c.readBack ?? c.configured;
  kv(c.readBack ? 'read back' : 'configured', [
    `memory ${limit(lim.memoryBytes, size)}`, `memory+swap ${limit(lim.memorySwapBytes, size)}`,
    `cpu ${lim.cpuQuotaUs === null ? 'unlimited' : `${lim.cpuQuotaUs}/${lim.cpuPeriodUs ?? '-'} us`}`,
    `shares ${limit(lim.cpuShares)}`, `pids ${limit(lim.pids)}`, `cpuset ${lim.cpusetCpus ?? '-'}`,
  ].join(', '));
  if (!c.readBack) kv('', 'the cgroup went with the container; these are the limits the runtime was given');
  for (const f of c.files) kv('', `${f.path} = ${f.value}`);
  trace(4);

  const o = s.overlay;
  head(5, o.title, o.tookMs);
  if (o.mounted) {
    // the seed's own command, with this container's directories (overlayfs lists lowers top first)
    kv('mount', `-t overlay overlay -o lowerdir=${[...o.lowerdirs].reverse().join(':')},upperdir=${o.upperdir},workdir=${o.workdir} ${o.mountpoint}`);
    o.lowerdirs.forEach((d, i) => kv(i === 0 ? 'lowerdirs' : '', `${i}: ${d}`));
    kv('upperdir', o.upperdir ?? '-');
    kv('workdir', o.workdir ?? '-');
    kv('layers', o.matchesImage ? "the image's snapshots, in order" : 'NOT the image\'s snapshots in order');
  } else kv('mount', `${o.mountpoint}: not mounted`);
  trace(5);

  const r = s.rootfs;
  head(6, r.title, r.tookMs);
  kv('switch', r.switchedBy ?? '-');
  kv('root', r.readonly ? 'read-only' : 'read-write');
  kv('mounts', `${r.mounts.length}: ${r.mounts.map((m) => `${m.destination} (${m.type})`).join(', ')}`);
  for (const m of r.userMounts) kv(m.type, `${m.source} -> ${m.destination}${m.rw ? '' : ' (ro)'}`);
  kv('masked', `${r.maskedPaths.length} paths; read-only ${r.readonlyPaths.length} paths`);
  trace(6);

  const n = s.network;
  head(7, n.title, n.tookMs);
  kv('mode', `${n.mode}${n.requested !== n.mode ? ` (asked: ${n.requested})` : ''}`);
  kv('netns', `${n.netns ?? '-'}${n.sandbox ? ` (${n.sandbox}, made by berthd; the runtime joined it)` : ''}`);
  kv('hostname', n.hostname);
  for (const e of n.endpoints ?? []) {
    kv(`veth ${e.network}`, `${e.bridge} <- ${e.hostVeth} (host) == ${e.containerIf} (container) ${e.mac}`);
    kv('address', [e.ipv4, e.ipv6].filter(Boolean).join(', ') + (e.gateway ? `, gateway ${e.gateway}` : ''));
    if (e.dns) kv('dns', e.dns);
  }
  for (const r of n.routes ?? []) kv('route', `${r.destination} ${r.gateway !== '0.0.0.0' ? `via ${r.gateway} ` : ''}dev ${r.device}`);
  for (const p of n.ports ?? []) kv('dnat', `${p.proto} ${p.host} -> ${p.target} (nft table ${p.table})`);
  if (n.timings) kv('took', Object.entries(n.timings).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(', ') + ' (beside the runtime\'s create)');
  if (n.interfaces) kv('devices', n.interfaces.map((i) => `${i.name} (rx ${size(i.rxBytes)}, tx ${size(i.txBytes)})`).join(', ') || 'none');
  trace(7);

  const sec = s.security;
  head(8, sec.title, sec.tookMs);
  if (sec.capabilities) {
    kv('effective', list(sec.capabilities.effective));
    kv('bounding', list(sec.capabilities.bounding));
    if (sec.capabilities.ambient.length) kv('ambient', list(sec.capabilities.ambient));
    kv('vs docker', `dropped ${list(sec.droppedFromDefault)}; added ${list(sec.addedToDefault)}`);
  }
  const sc = sec.seccomp;
  const modeName = sc.mode === 2 ? 'filter' : sc.mode === 1 ? 'strict' : sc.mode === 0 ? 'disabled' : '-';
  kv('seccomp', `mode ${sc.mode ?? '-'} (${modeName})${sc.filters !== null ? `, ${sc.filters} filter(s) loaded` : ''}`);
  if (sc.profile) {
    kv('profile', `default ${sc.profile.defaultAction}; ${sc.profile.rules} rules naming ${sc.profile.syscalls} syscalls; ${sc.profile.architectures.join(' ')}`);
    const blocked = sc.notable.filter((x) => x.action !== 'SCMP_ACT_ALLOW');
    if (blocked.length) kv('blocked', blocked.map((b) => (b.action.includes(' if ') ? `${b.syscall} (${b.action})` : b.syscall)).join(', '));
  }
  kv('no_new_privs', sec.noNewPrivs === null ? '-' : sec.noNewPrivs ? 'yes' : 'no');
  if (sec.user) kv('user', `uid ${sec.user.uid.join('/')} gid ${sec.user.gid.join('/')} groups ${sec.user.groups.join(',') || '-'}`);
  kv('from', sec.source);
  trace(8);

  const e = s.exec;
  head(9, e.title, e.tookMs);
  kv('command', [e.path, ...e.args].join(' '));
  if (e.execve) kv('call', `${e.execve}${e.execAt ? ` at ${e.execAt}` : ''}`);
  if (e.cmdline) kv('now', e.cmdline.join(' '));
  kv('cwd', e.cwd);
  trace(9);

  const m = x.monitor;
  L.push('');
  L.push('Monitor');
  kv('pid', m.pid === null ? '-' : `${m.pid} (${m.alive ? `running, RSS ${size((m.rssKiB ?? 0) * 1024)}` : 'gone'})`);
  kv('log', m.logPath);
  kv('attach', m.attachSocket);
  kv('ctl', m.ctlSocket);
  kv('exit', m.exitPath);
  return `${L.join('\n')}\n`;
}
