// Integration tests of the seccomp program cache (src/runtime/seccomp-cache.ts), on the real
// kernel, as root: the first container with a profile has berth-init compile it, later ones load
// the cached program; what the container may do must not change, two profiles never share a
// program, and a damaged cache file is never loaded.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { makeBundle, oci, uniqueId, type Bundle, type OciResult } from '../fixtures/busybox.ts';
import { defaultProfile, resolveProfile } from '../../src/engine/spec/seccomp-default.ts';
import { readTrace, type TraceStep } from '../../src/runtime/trace.ts';

/** a root of our own: its cache starts empty and no other test's programs are in it */
const ROOT = `/run/berth-oci-test-h10-${process.pid}`;
const CACHE = `${ROOT}/.seccomp-cache`;

const sh = (script: string): string[] => ['/bin/sh', '-c', script];
const show = (r: OciResult): string => `exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;

/** What busybox `mkdir` needs (strace of busybox-static), `write` for its message included. */
const MKDIR_SYSCALLS = [
  'arch_prctl', 'brk', 'execve', 'exit_group', 'getrandom', 'getuid', 'mprotect', 'prctl', 'prlimit64', 'readlink',
  'rseq', 'set_robust_list', 'set_tid_address', 'write', 'umask',
];

const bundles: Bundle[] = [];
after(async () => {
  for (const b of bundles) await b.cleanup();
  await fs.rm(ROOT, { recursive: true, force: true });
});

async function bundle(args: string[], seccomp: unknown, mutate?: (s: any) => void): Promise<Bundle> {
  const b = await makeBundle({
    args,
    mutate: (s) => {
      s.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] });
      if (seccomp) s.linux.seccomp = seccomp;
      mutate?.(s);
    },
  });
  bundles.push(b);
  return b;
}

interface Ran {
  r: OciResult;
  trace: TraceStep[];
  load?: TraceStep;
}

/** `run` to the end, with the container's creation trace. */
async function run(b: Bundle): Promise<Ran> {
  const id = uniqueId('h10sc');
  try {
    const r = await oci(['run', '--keep', '--bundle', b.dir, id], { root: ROOT });
    const trace = readTrace(`${ROOT}/${id}/trace.log`);
    return { r, trace, load: trace.find((s) => s.step === 'seccomp_load') };
  } finally {
    await oci(['delete', '--force', id], { root: ROOT });
  }
}

const ops = (x: Ran): Set<string> => new Set(x.trace.map((s) => s.step));

/** the trace of a container whose filter libseccomp compiled now */
function compiled(x: Ran): string {
  assert.ok(ops(x).has('seccomp_export') && ops(x).has('seccomp_rule'), `compiled from the rules:\n${x.trace.map((s) => s.step).join(' ')}`);
  assert.ok(!ops(x).has('seccomp_program'));
  assert.equal(x.load?.args[0], 'compiled');
  return x.load!.args[1]!;
}

/** the trace of a container given the cached program: no rule records, the load says so */
function cached(x: Ran): string {
  for (const op of ['seccomp_init', 'seccomp_rule', 'seccomp_export']) assert.ok(!ops(x).has(op), `no ${op} with a cached program`);
  assert.ok(ops(x).has('seccomp_program'));
  assert.equal(x.load?.args[0], 'cached');
  assert.match(x.load!.detail, /^seccomp\(SECCOMP_SET_MODE_FILTER\) of the cached program compiled by libseccomp from the profile \([1-9]\d* insns, key [0-9a-f]{64}\)/);
  return x.load!.args[1]!;
}

describe('seccomp program cache', () => {
  test('docker\'s default profile: the cached program refuses unshare -U and mount as the compiled one does', async () => {
    // CAP_SYS_ADMIN in the container's sets but not in the profile's resolution: the kernel would
    // allow both calls, so only the filter can refuse them
    const script = 'grep "^Seccomp:" /proc/self/status; unshare -U true 2>&1; echo unshare=$?; mount -t tmpfs t /tmp 2>&1; echo mount=$?';
    const withAdmin = (s: any) => {
      for (const set of ['bounding', 'effective', 'permitted']) s.process.capabilities[set].push('CAP_SYS_ADMIN');
    };
    const profile = resolveProfile(defaultProfile(), { caps: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'] });
    const control = await run(await bundle(sh(script), undefined, withAdmin));
    assert.match(control.r.stdout, /^unshare=0$/m, `without a filter the calls work:\n${show(control.r)}`);
    assert.match(control.r.stdout, /^mount=0$/m, show(control.r));

    const b = await bundle(sh(script), profile, withAdmin);
    const first = await run(b);
    const second = await run(b);
    const third = await run(b);
    for (const x of [first, second, third]) {
      assert.equal(x.r.code, 0, show(x.r));
      assert.match(x.r.stdout, /^Seccomp:\s+2$/m, show(x.r));
      assert.match(x.r.stdout, /unshare: unshare\(0x10000000\): Operation not permitted\nunshare=1/, show(x.r));
      // busybox's words for mount(2)'s EPERM
      assert.match(x.r.stdout, /mount: permission denied \(are you root\?\)\nmount=1/, show(x.r));
    }
    const key = compiled(first);
    assert.equal(cached(second), key);
    assert.equal(cached(third), key);
    assert.deepEqual(readdirSync(CACHE), [`${key}.bpf`]);
  });

  test('profiles that differ only in an argument condition, or only in the default action, never share a program', async () => {
    const chmodRule = (mode: number) => ({
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: ['chmod'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 1, value: mode, op: 'SCMP_CMP_EQ' }] },
        { names: ['fchmodat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 2, value: mode, op: 'SCMP_CMP_EQ' }] },
      ],
    });
    const script = sh('touch /tmp/f; chmod 777 /tmp/f 2>/dev/null; echo 777=$?; chmod 755 /tmp/f 2>/dev/null; echo 755=$?');
    const deny777 = await bundle(script, chmodRule(0o777));
    const deny755 = await bundle(script, chmodRule(0o755));
    const a1 = await run(deny777);
    const a2 = await run(deny777);
    const b1 = await run(deny755);
    const b2 = await run(deny755);
    const a3 = await run(deny777);
    for (const x of [a1, a2, a3]) assert.match(x.r.stdout, /^777=1\n755=0$/m, show(x.r));
    for (const x of [b1, b2]) assert.match(x.r.stdout, /^777=0\n755=1$/m, show(x.r));
    const ka = compiled(a1);
    assert.equal(cached(a2), ka);
    const kb = compiled(b1);
    assert.notEqual(kb, ka);
    assert.equal(cached(b2), kb);
    assert.equal(cached(a3), ka);

    // everything else refused, with EPERM or with ENOSYS: the rules are the same, the default action is not
    const denyAll = (errno: number) => ({
      defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: errno, architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: MKDIR_SYSCALLS, action: 'SCMP_ACT_ALLOW' }],
    });
    const eperm = await bundle(['/bin/mkdir', '/tmp/x'], denyAll(1));
    const enosys = await bundle(['/bin/mkdir', '/tmp/x'], denyAll(38));
    const c1 = await run(eperm);
    const c2 = await run(eperm);
    const d1 = await run(enosys);
    const d2 = await run(enosys);
    for (const x of [c1, c2]) assert.match(x.r.stderr, /can't create directory '\/tmp\/x': Operation not permitted/, show(x.r));
    for (const x of [d1, d2]) assert.match(x.r.stderr, /can't create directory '\/tmp\/x': Function not implemented/, show(x.r));
    const kc = compiled(c1);
    assert.equal(cached(c2), kc);
    const kd = compiled(d1);
    assert.notEqual(kd, kc);
    assert.equal(cached(d2), kd);
  });

  test('a damaged cache file is never loaded: the profile is compiled again and the file replaced', async () => {
    const profile = {
      defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    };
    const b = await bundle(sh('mkdir /tmp/x 2>&1; echo rc=$?'), profile);
    const refused = (x: Ran) => assert.match(x.r.stdout, /can't create directory '\/tmp\/x': Operation not permitted\nrc=1/, show(x.r));
    const first = await run(b);
    refused(first);
    const key = compiled(first);
    const file = `${CACHE}/${key}.bpf`;
    const good = await fs.readFile(file);
    const cut = good.indexOf('\n\n') + 2;
    // one instruction, BPF_RET SECCOMP_RET_ALLOW: loaded, it would let mkdir through
    const allowAll = Buffer.from([0x06, 0, 0, 0, 0x00, 0x00, 0xff, 0x7f]);
    const head = good.subarray(0, cut).toString('latin1');
    const damaged: Array<[string, Buffer]> = [
      ['truncated', good.subarray(0, cut + 40)],
      ['one bit flipped in the program', Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([good[good.length - 1]! ^ 1])])],
      ['an allow-all program under the old header (its sha256 no longer matches)', Buffer.concat([Buffer.from(head.replace(/insns \d+/, 'insns 1'), 'latin1'), allowAll])],
      ['another key\'s entry', Buffer.from(good.toString('latin1').replace(`key ${key}`, `key ${'0'.repeat(64)}`), 'latin1')],
      ['not a cache file at all', Buffer.from('{"hello": "world"}\n')],
    ];
    for (const [what, bytes] of damaged) {
      await fs.writeFile(file, bytes);
      const x = await run(b);
      refused(x);
      assert.equal(compiled(x), key, what);
      assert.deepEqual(await fs.readFile(file), good, `${what}: the file is the compiled program again`);
    }
    const again = await run(b);
    refused(again);
    assert.equal(cached(again), key);
  });
});
