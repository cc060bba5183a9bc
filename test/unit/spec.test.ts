import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { CAPABILITIES, DEFAULT_CAPS, RUNC_SPEC_CAPS, capMask, capNumber } from '../../src/runtime/caps.ts';
import { defaultSpec } from '../../src/runtime/spec/default.ts';
import { ConfigError, parseSpec, validateProcess } from '../../src/runtime/spec/validate.ts';

// A small valid config; tests clone it and break one thing.
function base(): any {
  return {
    ociVersion: '1.0.2',
    process: {
      user: { uid: 0, gid: 0 },
      args: ['sh', '-c', 'true'],
      cwd: '/',
      capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    },
    root: { path: 'rootfs' },
    hostname: 'box',
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'uts' }] },
  };
}

function parse(obj: unknown, file?: string) {
  return parseSpec(JSON.stringify(obj), file);
}

/** Asserts fn throws a ConfigError at `jsonPath` whose message matches `re`. */
function rejects(fn: () => unknown, jsonPath: string, re: RegExp): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.jsonPath, jsonPath, caught.message);
  assert.match(caught.message, re);
  assert.ok(caught.message.startsWith(`${caught.file}: ${jsonPath}: `), caught.message);
  return caught;
}

function mutate(f: (s: any) => void): any {
  const s = base();
  f(s);
  return s;
}

// ---------------------------------------------------------------------------

describe('caps', () => {
  test('the table covers CAP_CHOWN=0 … CAP_CHECKPOINT_RESTORE=40', () => {
    assert.equal(CAPABILITIES.size, 41);
    assert.equal(CAPABILITIES.get('CAP_CHOWN'), 0);
    assert.equal(CAPABILITIES.get('CAP_NET_ADMIN'), 12);
    assert.equal(CAPABILITIES.get('CAP_SYS_ADMIN'), 21);
    assert.equal(CAPABILITIES.get('CAP_MKNOD'), 27);
    assert.equal(CAPABILITIES.get('CAP_SETFCAP'), 31);
    assert.equal(CAPABILITIES.get('CAP_BPF'), 39);
    assert.equal(CAPABILITIES.get('CAP_CHECKPOINT_RESTORE'), 40);
    assert.deepEqual([...CAPABILITIES.values()], [...Array(41).keys()]);
  });

  test('accepts capabilities without the CAP_ prefix in capNumber, in any case', () => {
    assert.equal(capNumber('CAP_NET_ADMIN'), 12);
    assert.equal(capNumber('NET_ADMIN'), 12);
    assert.equal(capNumber('net_admin'), 12);
    assert.equal(capNumber('cap_net_admin'), 12);
    assert.equal(capNumber('Sys_Admin'), 21);
  });

  test('capNumber returns undefined for unknown names', () => {
    assert.equal(capNumber('CAP_FLY'), undefined);
    assert.equal(capNumber(''), undefined);
    assert.equal(capNumber('CAP_'), undefined);
  });

  test('capMask sets bit n for capability n', () => {
    assert.equal(capMask([]), 0n);
    assert.equal(capMask(['CAP_CHOWN']), 1n);
    assert.equal(capMask(['CAP_KILL', 'net_bind_service']), (1n << 5n) | (1n << 10n));
    assert.equal(capMask(['CAP_CHECKPOINT_RESTORE']), 1n << 40n);
    assert.equal(capMask(['CAP_KILL', 'CAP_KILL']), 1n << 5n);
  });

  test('capMask throws an Error naming the unknown capability', () => {
    assert.throws(() => capMask(['CAP_KILL', 'CAP_TELEPORT']), (e: unknown) => e instanceof Error && /CAP_TELEPORT/.test(e.message));
  });

  test("DEFAULT_CAPS is docker's 14 in docker's order, RUNC_SPEC_CAPS runc spec's 3", () => {
    assert.deepEqual(DEFAULT_CAPS, [
      'CAP_CHOWN',
      'CAP_DAC_OVERRIDE',
      'CAP_FSETID',
      'CAP_FOWNER',
      'CAP_MKNOD',
      'CAP_NET_RAW',
      'CAP_SETGID',
      'CAP_SETUID',
      'CAP_SETFCAP',
      'CAP_SETPCAP',
      'CAP_NET_BIND_SERVICE',
      'CAP_SYS_CHROOT',
      'CAP_KILL',
      'CAP_AUDIT_WRITE',
    ]);
    assert.deepEqual(RUNC_SPEC_CAPS, ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
  });
});

// ---------------------------------------------------------------------------

describe('parseSpec: structure and types', () => {
  test('accepts a small valid config and returns it typed', () => {
    const spec = parse(base());
    assert.equal(spec.ociVersion, '1.0.2');
    assert.deepEqual(spec.process?.args, ['sh', '-c', 'true']);
    assert.equal(spec.root?.path, 'rootfs');
  });

  test('reports a wrong element type with its index in the JSON path', () => {
    const e = rejects(() => parse(mutate((s) => (s.process.args[2] = 7))), '$.process.args[2]', /expected a string, got number/);
    assert.equal(e.message, 'config.json: $.process.args[2]: expected a string, got number');
    assert.equal(e.file, 'config.json');
  });

  test('uses the given file name in the message', () => {
    const e = rejects(() => parse(mutate((s) => (s.process.args[2] = 7)), '/b/config.json'), '$.process.args[2]', /./);
    assert.equal(e.file, '/b/config.json');
    assert.ok(e.message.startsWith('/b/config.json: '));
  });

  test('rejects a missing or non-string ociVersion', () => {
    rejects(() => parse(mutate((s) => delete s.ociVersion)), '$.ociVersion', /required/);
    rejects(() => parse(mutate((s) => (s.ociVersion = 1))), '$.ociVersion', /expected a string, got number/);
  });

  test('rejects a top level that is not an object', () => {
    rejects(() => parseSpec('[]'), '$', /expected an object, got array/);
    rejects(() => parseSpec('null'), '$', /expected an object, got null/);
  });

  test('rejects root without a path', () => {
    rejects(() => parse(mutate((s) => (s.root = { readonly: true }))), '$.root.path', /required/);
    rejects(() => parse(mutate((s) => (s.root.readonly = 'yes'))), '$.root.readonly', /expected a boolean, got string/);
  });

  test('allows unknown top-level and nested keys', () => {
    const spec = parse(
      mutate((s) => {
        s.solaris = { whatever: 1 };
        s.process.futureField = [1, 2];
        s.linux.somethingNew = 'x';
      }),
    );
    assert.equal((spec as any).solaris.whatever, 1);
  });

  test('treats null optional fields as absent', () => {
    const spec = parse(
      mutate((s) => {
        s.process.rlimits = null;
        s.mounts[0].options = null;
        s.hooks = null;
      }),
    );
    assert.equal('rlimits' in spec.process!, false);
    assert.equal(spec.mounts?.[0]?.options, undefined);
    assert.equal('hooks' in spec, false);
  });

  test('a null required field is a type error', () => {
    rejects(() => parse(mutate((s) => (s.process.user.uid = null))), '$.process.user.uid', /got null/);
  });
});

describe('parseSpec: process', () => {
  test('rejects a relative cwd', () => {
    rejects(() => parse(mutate((s) => (s.process.cwd = 'home'))), '$.process.cwd', /absolute/);
  });

  test('rejects a missing cwd and a missing user', () => {
    rejects(() => parse(mutate((s) => delete s.process.cwd)), '$.process.cwd', /required/);
    rejects(() => parse(mutate((s) => delete s.process.user)), '$.process.user', /required/);
  });

  test('rejects negative, fractional and too-large uid/gid', () => {
    rejects(() => parse(mutate((s) => (s.process.user.uid = -1))), '$.process.user.uid', /uids and gids must be in range 0-2147483647, got -1/);
    rejects(() => parse(mutate((s) => (s.process.user.gid = 1.5))), '$.process.user.gid', /integer/);
    rejects(() => parse(mutate((s) => (s.process.user.uid = 2 ** 32))), '$.process.user.uid', /range 0-2147483647, got 4294967296/);
    rejects(() => parse(mutate((s) => (s.process.user.additionalGids = [1, -2]))), '$.process.user.additionalGids[1]', /range 0-2147483647/);
  });

  test('8: uid/gid 4294967295 ((uid_t)-1, which left the process root) and 2147483648 are refused as runc refuses them', () => {
    rejects(() => parse(mutate((s) => (s.process.user.uid = 4294967295))), '$.process.user.uid', /uids and gids must be in range 0-2147483647, got 4294967295/);
    rejects(() => parse(mutate((s) => (s.process.user.gid = 2147483648))), '$.process.user.gid', /0-2147483647/);
    rejects(() => parse(mutate((s) => (s.process.user.additionalGids = [4294967295]))), '$.process.user.additionalGids[0]', /0-2147483647/);
    rejects(() => parse(mutate((s) => (s.linux.devices = [{ type: 'c', path: '/dev/x', major: 1, minor: 3, uid: 4294967295 }]))), '$.linux.devices[0].uid', /0-2147483647/);
    assert.equal(parse(mutate((s) => (s.process.user = { uid: 2147483647, gid: 2147483647, additionalGids: [0, 2147483647] }))).process!.user.uid, 2147483647);
  });

  test('8: id mappings: a range past 4294967294, overlapping ranges and more than 340 lines are refused', () => {
    const userns = (s: any, maps: unknown[]) => {
      s.linux.namespaces.push({ type: 'user' });
      s.linux.uidMappings = maps;
      s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    };
    rejects(() => parse(mutate((s) => userns(s, [{ containerID: 0, hostID: 4294967295, size: 1 }]))), '$.linux.uidMappings[0].size', /hostID 4294967295 \+ size 1 goes past id 4294967294/);
    rejects(() => parse(mutate((s) => userns(s, [{ containerID: 4294967290, hostID: 0, size: 10 }]))), '$.linux.uidMappings[0].size', /containerID/);
    rejects(
      () => parse(mutate((s) => userns(s, [{ containerID: 0, hostID: 100000, size: 1000 }, { containerID: 500, hostID: 300000, size: 10 }]))),
      '$.linux.uidMappings[1]', /containerID range 500..509 overlaps \$.linux.uidMappings\[0\] \(0..999\)/,
    );
    rejects(
      () => parse(mutate((s) => userns(s, [{ containerID: 0, hostID: 100000, size: 10 }, { containerID: 10, hostID: 100005, size: 10 }]))),
      '$.linux.uidMappings[1]', /hostID range/,
    );
    const many = Array.from({ length: 341 }, (_, i) => ({ containerID: i, hostID: 100000 + i, size: 1 }));
    rejects(() => parse(mutate((s) => userns(s, many))), '$.linux.uidMappings', /at most 340/);
    assert.equal(parse(mutate((s) => userns(s, many.slice(0, 340)))).linux!.uidMappings!.length, 340);
  });

  test('rejects an empty args array and a missing args', () => {
    rejects(() => parse(mutate((s) => (s.process.args = []))), '$.process.args', /at least one/);
    rejects(() => parse(mutate((s) => delete s.process.args)), '$.process.args', /required/);
  });

  test('rejects an unknown capability and names its JSON path', () => {
    const e = rejects(
      () => parse(mutate((s) => (s.process.capabilities.effective = ['CAP_KILL', 'CAP_FLY']))),
      '$.process.capabilities.effective[1]',
      /unknown capability "CAP_FLY"/,
    );
    assert.match(e.message, /in \$\.process\.capabilities\.effective\b/);
  });

  test('checks all five capability sets', () => {
    for (const set of ['bounding', 'effective', 'inheritable', 'permitted', 'ambient']) {
      rejects(
        () => parse(mutate((s) => (s.process.capabilities[set] = ['CAP_NOPE']))),
        `$.process.capabilities.${set}[0]`,
        new RegExp(`CAP_NOPE.*capabilities\\.${set}`),
      );
    }
  });

  test('config.json needs full upper-case capability names (with a hint)', () => {
    rejects(() => parse(mutate((s) => (s.process.capabilities.bounding = ['net_admin']))), '$.process.capabilities.bounding[0]', /CAP_NET_ADMIN/);
  });

  test('rejects an unknown rlimit type', () => {
    rejects(
      () => parse(mutate((s) => (s.process.rlimits = [{ type: 'RLIMIT_FOO', hard: 1, soft: 1 }]))),
      '$.process.rlimits[0].type',
      /unknown rlimit type "RLIMIT_FOO"/,
    );
  });

  test('rejects duplicate rlimit types', () => {
    rejects(
      () =>
        parse(
          mutate((s) =>
            s.process.rlimits.push({ type: 'RLIMIT_CORE', hard: 0, soft: 0 }, { type: 'RLIMIT_NOFILE', hard: 5, soft: 5 }),
          ),
        ),
      '$.process.rlimits[2].type',
      /duplicate rlimit type RLIMIT_NOFILE/,
    );
  });

  test('rejects an rlimit whose soft limit exceeds the hard limit', () => {
    rejects(() => parse(mutate((s) => (s.process.rlimits[0].soft = 2048))), '$.process.rlimits[0].soft', /greater than hard/);
  });

  test('accepts an unlimited (2^64-1) rlimit', () => {
    const text = JSON.stringify(base()).replace('"hard":1024', '"hard":18446744073709551615');
    assert.ok(text.includes('18446744073709551615'));
    assert.ok(parseSpec(text).process!.rlimits![0]!.hard > 2 ** 63);
  });

  test('rejects an oomScoreAdj outside -1000..1000 and a non-boolean terminal', () => {
    rejects(() => parse(mutate((s) => (s.process.oomScoreAdj = 1001))), '$.process.oomScoreAdj', /-1000\.\.1000/);
    rejects(() => parse(mutate((s) => (s.process.terminal = 1))), '$.process.terminal', /expected a boolean/);
  });

  test('validateProcess checks a lone process object at path $', () => {
    const p = validateProcess({ user: { uid: 1, gid: 1 }, args: ['ls'], cwd: '/tmp' }, '$');
    assert.deepEqual(p.args, ['ls']);
    rejects(() => validateProcess({ user: { uid: 1, gid: 1 }, args: ['ls'], cwd: 'tmp' }, '$'), '$.cwd', /absolute/);
    const e = rejects(() => validateProcess({ user: { uid: 1, gid: 1 }, args: [], cwd: '/' }, '$', 'p.json'), '$.args', /at least one/);
    assert.equal(e.file, 'p.json');
  });
});

describe('parseSpec: mounts and hooks', () => {
  test('rejects a relative mount destination', () => {
    rejects(() => parse(mutate((s) => (s.mounts[0].destination = 'proc'))), '$.mounts[0].destination', /absolute/);
  });

  test('rejects a mount destination with ..', () => {
    rejects(() => parse(mutate((s) => (s.mounts[0].destination = '/a/../../etc'))), '$.mounts[0].destination', /\.\./);
    rejects(() => parse(mutate((s) => (s.mounts[0].destination = '/a/..'))), '$.mounts[0].destination', /\.\./);
  });

  test('allows names that merely start with .. in a mount destination', () => {
    assert.equal(parse(mutate((s) => (s.mounts[0].destination = '/a/..b'))).mounts?.[0]?.destination, '/a/..b');
  });

  test('rejects non-string mount options', () => {
    rejects(() => parse(mutate((s) => (s.mounts[0].options = ['ro', 1]))), '$.mounts[0].options[1]', /expected a string/);
  });

  test('rejects a relative hook path', () => {
    rejects(() => parse(mutate((s) => (s.hooks = { poststop: [{ path: 'bin/true' }] }))), '$.hooks.poststop[0].path', /absolute/);
  });

  test('rejects a hook timeout of zero or less', () => {
    rejects(() => parse(mutate((s) => (s.hooks = { createRuntime: [{ path: '/bin/true', timeout: 0 }] }))), '$.hooks.createRuntime[0].timeout', /greater than zero/);
    rejects(() => parse(mutate((s) => (s.hooks = { prestart: [{ path: '/bin/true', timeout: -3 }] }))), '$.hooks.prestart[0].timeout', /greater than zero/);
    assert.ok(parse(mutate((s) => (s.hooks = { poststart: [{ path: '/bin/true', timeout: 5, args: ['true'], env: ['A=b'] }] }))));
  });
});

describe('parseSpec: linux', () => {
  test('rejects an unknown namespace type', () => {
    rejects(() => parse(mutate((s) => s.linux.namespaces.push({ type: 'net' }))), '$.linux.namespaces[3].type', /unknown namespace type "net"/);
  });

  test('rejects a duplicated namespace type', () => {
    rejects(() => parse(mutate((s) => s.linux.namespaces.push({ type: 'pid', path: '/proc/1/ns/pid' }))), '$.linux.namespaces[3].type', /duplicate/);
  });

  test('rejects a relative namespace path', () => {
    rejects(() => parse(mutate((s) => s.linux.namespaces.push({ type: 'network', path: 'proc/1/ns/net' }))), '$.linux.namespaces[3].path', /absolute/);
  });

  test('rejects a hostname without a private UTS namespace', () => {
    const s = mutate((s) => (s.linux.namespaces = [{ type: 'pid' }, { type: 'mount' }]));
    rejects(() => parse(s), '$.hostname', /unable to set hostname without a private UTS namespace/);
    delete s.hostname;
    assert.ok(parse(s));
    s.domainname = 'example.org';
    rejects(() => parse(s), '$.domainname', /domainname without a private UTS namespace/);
  });

  test('rejects uid/gid mappings without a user namespace', () => {
    rejects(() => parse(mutate((s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]))), '$.linux.uidMappings', /no user namespace/);
    rejects(() => parse(mutate((s) => (s.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]))), '$.linux.gidMappings', /no user namespace/);
  });

  test('rejects a new user namespace without mappings, accepts one joined by path', () => {
    rejects(() => parse(mutate((s) => s.linux.namespaces.push({ type: 'user' }))), '$.linux.namespaces[3]', /uidMappings/);
    rejects(
      () =>
        parse(
          mutate((s) => {
            s.linux.namespaces.push({ type: 'user' });
            s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
          }),
        ),
      '$.linux.namespaces[3]',
      /gidMappings/,
    );
    assert.ok(parse(mutate((s) => s.linux.namespaces.push({ type: 'user', path: '/proc/42/ns/user' }))));
  });

  test('rejects a zero-sized id mapping', () => {
    rejects(
      () =>
        parse(
          mutate((s) => {
            s.linux.namespaces.push({ type: 'user' });
            s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 0 }];
            s.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
          }),
        ),
      '$.linux.uidMappings[0].size',
      /at least 1/,
    );
  });

  test('rejects time offsets without a time namespace', () => {
    const s = mutate((s) => (s.linux.timeOffsets = { monotonic: { secs: 10, nanosecs: 0 } }));
    rejects(() => parse(s), '$.linux.timeOffsets', /no time namespace/);
    s.linux.namespaces.push({ type: 'time' });
    assert.ok(parse(s));
    s.linux.timeOffsets = { realtime: { secs: 1 } };
    rejects(() => parse(s), '$.linux.timeOffsets.realtime', /unknown clock/);
  });

  test('rejects an unknown rootfsPropagation', () => {
    rejects(() => parse(mutate((s) => (s.linux.rootfsPropagation = 'recursive'))), '$.linux.rootfsPropagation', /rootfs propagation "recursive"/);
    assert.ok(parse(mutate((s) => (s.linux.rootfsPropagation = 'rslave'))));
  });

  test('rejects an unknown device type and a char device without major', () => {
    rejects(() => parse(mutate((s) => (s.linux.devices = [{ type: 'x', path: '/dev/x', major: 1, minor: 1 }]))), '$.linux.devices[0].type', /device type "x"/);
    rejects(() => parse(mutate((s) => (s.linux.devices = [{ type: 'c', path: '/dev/x', minor: 1 }]))), '$.linux.devices[0].major', /required/);
    assert.ok(parse(mutate((s) => (s.linux.devices = [{ type: 'p', path: '/dev/fifo' }]))));
  });

  test('rejects bad cgroup device rules and resource types', () => {
    rejects(() => parse(mutate((s) => (s.linux.resources = { devices: [{ allow: false, access: 'rwx' }] }))), '$.linux.resources.devices[0].access', /r, w and m/);
    rejects(() => parse(mutate((s) => (s.linux.resources = { memory: { limit: '1G' } }))), '$.linux.resources.memory.limit', /expected an integer, got string/);
    rejects(() => parse(mutate((s) => (s.linux.resources = { pids: {} }))), '$.linux.resources.pids.limit', /required/);
    assert.ok(parse(mutate((s) => (s.linux.resources = { memory: { limit: -1, swap: -1 }, cpu: { quota: -1, cpus: '0-1' }, unified: { 'memory.max': 'max' } }))));
  });

  test('rejects an unknown seccomp default action and syscall action', () => {
    rejects(() => parse(mutate((s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_PANIC' }))), '$.linux.seccomp.defaultAction', /seccomp action "SCMP_ACT_PANIC"/);
    rejects(
      () => parse(mutate((s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'ALLOW' }] }))),
      '$.linux.seccomp.syscalls[0].action',
      /seccomp action "ALLOW"/,
    );
    rejects(() => parse(mutate((s) => (s.linux.seccomp = {}))), '$.linux.seccomp.defaultAction', /required/);
  });

  test('rejects an unknown seccomp operator and an argument index above 5', () => {
    const sc = (arg: object) => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [arg] }] });
    rejects(() => parse(mutate((s) => (s.linux.seccomp = sc({ index: 0, value: 8, op: 'SCMP_CMP_XX' })))), '$.linux.seccomp.syscalls[0].args[0].op', /seccomp operator/);
    rejects(() => parse(mutate((s) => (s.linux.seccomp = sc({ index: 6, value: 8, op: 'SCMP_CMP_EQ' })))), '$.linux.seccomp.syscalls[0].args[0].index', /0\.\.5/);
    assert.ok(parse(mutate((s) => (s.linux.seccomp = sc({ index: 5, value: 8, valueTwo: 8, op: 'SCMP_CMP_MASKED_EQ' })))));
  });

  test('rejects an unknown seccomp architecture', () => {
    rejects(
      () => parse(mutate((s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AMD64'] }))),
      '$.linux.seccomp.architectures[1]',
      /architecture "SCMP_ARCH_AMD64"/,
    );
  });

  test('rejects non-string sysctl values and names the key', () => {
    rejects(() => parse(mutate((s) => (s.linux.sysctl = { 'net.ipv4.ip_forward': 1 }))), '$.linux.sysctl["net.ipv4.ip_forward"]', /expected a string, got number/);
  });

  test('rejects non-string annotation values', () => {
    rejects(() => parse(mutate((s) => (s.annotations = { ok: 'yes', 'org.example/n': true }))), '$.annotations["org.example/n"]', /expected a string, got boolean/);
  });
});

describe('parseSpec: JSON syntax', () => {
  test('a malformed JSON reports line and column', () => {
    const text = '{\n  "ociVersion": "1.0.2",\n  "root": { "path": "rootfs", }\n}\n';
    const e = rejects(() => parseSpec(text), '$', /invalid JSON at line 3, column 31 \(position 57\)/);
    assert.equal(e.line, 3);
    assert.equal(e.column, 31);
    assert.equal(text[e.position!], '}');
  });

  test('locates errors V8 gives no position for (bad literal)', () => {
    const text = '{\n"a": tru}';
    const e = rejects(() => parseSpec(text), '$', /line 2, column 9/);
    assert.equal(e.position, text.indexOf('}'));
  });

  test('truncated JSON points at the end of the input', () => {
    const text = '{"ociVersion": "1.0.2"';
    const e = rejects(() => parseSpec(text, 'b.json'), '$', /line 1, column 23/);
    assert.equal(e.position, text.length);
    assert.equal(e.file, 'b.json');
  });

  test('empty input is a syntax error', () => {
    rejects(() => parseSpec(''), '$', /invalid JSON at line 1, column 1/);
  });
});

// ---------------------------------------------------------------------------

// `runc spec` (runc 1.1.x on a cgroup v2 host) with hostname "berth".
const RUNC_SPEC = `{
	"ociVersion": "1.0.2-dev",
	"process": {
		"terminal": true,
		"user": {
			"uid": 0,
			"gid": 0
		},
		"args": [
			"sh"
		],
		"env": [
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=xterm"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"effective": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"permitted": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"ambient": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			]
		},
		"rlimits": [
			{
				"type": "RLIMIT_NOFILE",
				"hard": 1024,
				"soft": 1024
			}
		],
		"noNewPrivileges": true
	},
	"root": {
		"path": "rootfs",
		"readonly": true
	},
	"hostname": "berth",
	"mounts": [
		{
			"destination": "/proc",
			"type": "proc",
			"source": "proc"
		},
		{
			"destination": "/dev",
			"type": "tmpfs",
			"source": "tmpfs",
			"options": [
				"nosuid",
				"strictatime",
				"mode=755",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/pts",
			"type": "devpts",
			"source": "devpts",
			"options": [
				"nosuid",
				"noexec",
				"newinstance",
				"ptmxmode=0666",
				"mode=0620",
				"gid=5"
			]
		},
		{
			"destination": "/dev/shm",
			"type": "tmpfs",
			"source": "shm",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"mode=1777",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/mqueue",
			"type": "mqueue",
			"source": "mqueue",
			"options": [
				"nosuid",
				"noexec",
				"nodev"
			]
		},
		{
			"destination": "/sys",
			"type": "sysfs",
			"source": "sysfs",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"ro"
			]
		},
		{
			"destination": "/sys/fs/cgroup",
			"type": "cgroup",
			"source": "cgroup",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"relatime",
				"ro"
			]
		}
	],
	"linux": {
		"resources": {
			"devices": [
				{
					"allow": false,
					"access": "rwm"
				}
			]
		},
		"namespaces": [
			{
				"type": "pid"
			},
			{
				"type": "network"
			},
			{
				"type": "ipc"
			},
			{
				"type": "uts"
			},
			{
				"type": "mount"
			},
			{
				"type": "cgroup"
			}
		],
		"maskedPaths": [
			"/proc/acpi",
			"/proc/asound",
			"/proc/kcore",
			"/proc/keys",
			"/proc/latency_stats",
			"/proc/timer_list",
			"/proc/timer_stats",
			"/proc/sched_debug",
			"/sys/firmware",
			"/proc/scsi"
		],
		"readonlyPaths": [
			"/proc/bus",
			"/proc/fs",
			"/proc/irq",
			"/proc/sys",
			"/proc/sysrq-trigger"
		]
	}
}`;

describe('defaultSpec', () => {
  test("serialises byte-for-byte like runc 1.1's `runc spec`", () => {
    assert.equal(JSON.stringify(defaultSpec({}), null, '\t'), RUNC_SPEC);
  });

  test('defaultSpec round-trips through parseSpec', () => {
    const spec = defaultSpec({});
    assert.deepEqual(parseSpec(JSON.stringify(spec)), spec);
  });

  test('cgroupNamespace: false leaves out the cgroup namespace (runc on cgroup v1)', () => {
    const types = defaultSpec({ cgroupNamespace: false }).linux?.namespaces?.map((n) => n.type);
    assert.deepEqual(types, ['pid', 'network', 'ipc', 'uts', 'mount']);
  });

  test('returns a fresh object each call', () => {
    const a = defaultSpec({});
    a.process!.capabilities!.bounding!.push('CAP_SYS_ADMIN');
    a.linux!.maskedPaths!.pop();
    const b = defaultSpec({});
    assert.deepEqual(b.process?.capabilities?.bounding, ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
    assert.equal(b.linux?.maskedPaths?.length, 10);
  });

  test("rootless spec has a user namespace with the caller's mapping", () => {
    const spec = defaultSpec({ rootless: true });
    const uid = process.geteuid!();
    const gid = process.getegid!();
    assert.deepEqual(
      spec.linux?.namespaces?.map((n) => n.type),
      ['pid', 'ipc', 'uts', 'mount', 'cgroup', 'user'],
    );
    assert.deepEqual(spec.linux?.uidMappings, [{ containerID: 0, hostID: uid, size: 1 }]);
    assert.deepEqual(spec.linux?.gidMappings, [{ containerID: 0, hostID: gid, size: 1 }]);
    assert.deepEqual(Object.keys(spec.linux!), ['uidMappings', 'gidMappings', 'namespaces', 'maskedPaths', 'readonlyPaths']);
  });

  test('rootless spec takes explicit ids, bind-mounts /sys, strips gid= and drops resources', () => {
    const spec = defaultSpec({ rootless: true, uid: 1234, gid: 5678 });
    assert.equal(spec.linux?.uidMappings?.[0]?.hostID, 1234);
    assert.equal(spec.linux?.gidMappings?.[0]?.hostID, 5678);
    assert.equal(spec.linux?.resources, undefined);
    const sys = spec.mounts?.find((m) => m.destination === '/sys');
    assert.deepEqual(sys, { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
    const pts = spec.mounts?.find((m) => m.destination === '/dev/pts');
    assert.deepEqual(pts?.options, ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620']);
    // runc's ToRootless keeps the cgroup mount and everything else in place.
    assert.deepEqual(
      spec.mounts?.map((m) => m.destination),
      ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup'],
    );
    // the non-rootless default is untouched
    assert.ok(defaultSpec({}).mounts?.find((m) => m.destination === '/dev/pts')?.options?.includes('gid=5'));
  });

  test('rootless spec round-trips through parseSpec', () => {
    const spec = defaultSpec({ rootless: true });
    assert.deepEqual(parseSpec(JSON.stringify(spec)), spec);
  });
});

// ---------------------------------------------------------------------------
// berth issue 8 (config hardening)

/** A config with a field of nearly every kind: strings the kernel sees, 64-bit numbers, ids, lists. */
function rich(): any {
  const s = base();
  s.process.env = ['PATH=/bin', 'A=b'];
  s.process.user = { uid: 1, gid: 2, additionalGids: [3], umask: 18 };
  s.process.rlimits.push({ type: 'RLIMIT_CORE', hard: 4096, soft: 0 });
  s.process.consoleSize = { height: 24, width: 80 };
  s.process.oomScoreAdj = 10;
  s.domainname = 'example';
  s.mounts.push({ destination: '/data', type: 'bind', source: '/srv', options: ['rbind', 'ro'] });
  s.hooks = { poststop: [{ path: '/bin/true', args: ['true'], env: ['X=1'], timeout: 5 }] };
  s.annotations = { a: 'b' };
  s.linux.namespaces.push({ type: 'ipc' }, { type: 'network' }, { type: 'user' });
  s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux.cgroupsPath = '/berth/h8b';
  s.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.msgmax': '8192' };
  s.linux.maskedPaths = ['/proc/kcore'];
  s.linux.readonlyPaths = ['/proc/sys'];
  s.linux.devices = [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 }];
  s.linux.resources = {
    devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }],
    memory: { limit: 1048576, reservation: 0, swap: 2097152, swappiness: 10 },
    cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0' },
    pids: { limit: 100 },
    blockIO: { weight: 100, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }] },
    hugepageLimits: [{ pageSize: '2MB', limit: 0 }],
  };
  s.linux.seccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 1, value: 511, valueTwo: 0, op: 'SCMP_CMP_EQ' }] }],
  };
  return s;
}

type Leaf = { path: (string | number)[]; value: unknown };

function leaves(v: unknown, path: (string | number)[] = []): Leaf[] {
  if (Array.isArray(v)) return [{ path, value: v }, ...v.flatMap((x, i) => leaves(x, [...path, i]))];
  if (v !== null && typeof v === 'object') return [{ path, value: v }, ...Object.entries(v).flatMap(([k, x]) => leaves(x, [...path, k]))];
  return [{ path, value: v }];
}

function jsonPathOf(path: (string | number)[]): string {
  return path.reduce<string>((p, k) => (typeof k === 'number' ? `${p}[${k}]` : /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? `${p}.${k}` : `${p}[${JSON.stringify(k)}]`), '$');
}

/** config.json text with the value at `path` replaced by the raw JSON `raw` (or the key removed when raw is undefined). */
function withRaw(spec: any, path: (string | number)[], raw: string | undefined): string {
  const marker = '"\u0001h8b-marker\u0001"';
  const copy = structuredClone(spec);
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k];
  const last = path[path.length - 1]!;
  if (raw === undefined) {
    if (Array.isArray(o)) o.splice(last as number, 1);
    else delete o[last];
    return JSON.stringify(copy);
  }
  o[last] = '\u0001h8b-marker\u0001';
  return JSON.stringify(copy).replace(JSON.stringify('\u0001h8b-marker\u0001'), raw).replace(marker, raw);
}

/** parseSpec(text) either succeeds or throws a ConfigError at a JSON path: never anything else. */
function parseOrConfigError(text: string, what: string): ConfigError | undefined {
  try {
    parseSpec(text, 'config.json');
    return undefined;
  } catch (e) {
    assert.ok(e instanceof ConfigError, `${what}: threw ${(e as Error)?.stack ?? String(e)}`);
    assert.match(e.message, /^config\.json: \$\S*: /, what);
    return e;
  }
}

describe('19: malformed configs (generated mutations of a valid one)', () => {
  test('the rich config itself is valid', () => {
    parseSpec(JSON.stringify(rich()));
  });

  test('every mutation gives a valid spec or a ConfigError naming a JSON path; NULs and out-of-range numbers are refused where they are', () => {
    const spec = rich();
    let n = 0;
    for (const { path, value } of leaves(spec)) {
      if (path.length === 0) continue;
      const jp = jsonPathOf(path);
      const inAnnotations = path[0] === 'annotations';
      const mutations: (string | undefined)[] = [undefined, 'null', '7', '"x"', '[]', '{}', 'true', '""', '-1', '1.5'];
      if (typeof value === 'string') {
        const e = parseOrConfigError(withRaw(spec, path, JSON.stringify(`${value}\u0000x`)), `NUL at ${jp}`);
        n++;
        if (!inAnnotations) {
          assert.ok(e, `NUL at ${jp} accepted`);
          assert.equal(e.jsonPath, jp, e.message);
          assert.match(e.detail, /NUL/);
        }
      }
      if (typeof value === 'number') {
        for (const huge of ['18446744073709551616', '-9223372036854775809', '1e30', '100000000000000000000000000000000000000000']) {
          const e = parseOrConfigError(withRaw(spec, path, huge), `${huge} at ${jp}`);
          n++;
          assert.ok(e, `${huge} at ${jp} accepted`);
          assert.equal(e.jsonPath, jp, e.message);
        }
        mutations.push('9007199254740993', '18446744073709551615', '-9223372036854775808', '4294967295', '2147483648');
      }
      for (const m of mutations) {
        parseOrConfigError(withRaw(spec, path, m), `${m ?? 'removal'} at ${jp}`);
        n++;
      }
    }
    assert.ok(n > 500, `only ${n} mutations`);
  });

  test('NUL bytes that used to reach a stack trace: args, cwd, env, hostname, mount destination, cgroupsPath', () => {
    rejects(() => parse(mutate((s) => (s.process.args = ['sh', 'a\u0000b']))), '$.process.args[1]', /NUL byte/);
    rejects(() => parse(mutate((s) => (s.process.cwd = '/a\u0000'))), '$.process.cwd', /NUL byte/);
    rejects(() => parse(mutate((s) => (s.process.env = ['A=\u0000']))), '$.process.env[0]', /NUL byte/);
    rejects(() => parse(mutate((s) => (s.hostname = 'a\u0000b'))), '$.hostname', /NUL byte/);
    rejects(() => parse(mutate((s) => (s.mounts[0].destination = '/pr\u0000oc'))), '$.mounts[0].destination', /NUL byte/);
    rejects(() => parse(mutate((s) => (s.linux.cgroupsPath = '/a\u0000'))), '$.linux.cgroupsPath', /NUL byte/);
    rejects(() => parse(mutate((s) => (s.linux.sysctl = { 'net.a\u0000': '1' }))), '$.linux.sysctl["net.a\\u0000"]', /NUL byte/);
  });

  test('cgroupsPath with .. or : is refused with its JSON path', () => {
    rejects(() => parse(mutate((s) => (s.linux.cgroupsPath = '/berth/../../x'))), '$.linux.cgroupsPath', /\.\. components/);
    rejects(() => parse(mutate((s) => (s.linux.cgroupsPath = 'system.slice:berth:x'))), '$.linux.cgroupsPath', /systemd/);
  });
});

describe('13: int64 and uint64 fields are exact', () => {
  const text = (f: (s: any) => void, raw: Record<string, string>) => {
    let t = JSON.stringify(mutate(f));
    for (const [k, v] of Object.entries(raw)) t = t.replace(`"${k}"`, v);
    return t;
  };

  test('memory.limit: -1 and 9223372036854775807 are accepted exactly; 9223372036854775808, 2^64 and 1e20 are refused', () => {
    const lim = (raw: string) => text((s) => (s.linux.resources = { memory: { limit: 'L' } }), { L: raw });
    assert.equal(parseSpec(lim('-1')).linux!.resources!.memory!.limit, -1);
    assert.equal(parseSpec(lim('9223372036854775807')).linux!.resources!.memory!.limit, 9223372036854775807n);
    assert.equal(parseSpec(lim('9007199254740993')).linux!.resources!.memory!.limit, 9007199254740993n);
    for (const bad of ['9223372036854775808', '18446744073709551616', '1e20', '-2']) {
      rejects(() => parseSpec(lim(bad)), '$.linux.resources.memory.limit', bad === '-2' ? /-1\.\.9223372036854775807/ : /int64/);
    }
  });

  test('rlimits and seccomp argument values: the full uint64 range, exactly; beyond is refused', () => {
    const t = text(
      (s) => {
        s.process.rlimits = [{ type: 'RLIMIT_CORE', hard: 'H', soft: 'S' }];
        s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 'V', valueTwo: 'W', op: 'SCMP_CMP_MASKED_EQ' }] }] };
      },
      { H: '18446744073709551615', S: '18446744073709551614', V: '18446744073709551615', W: '9007199254740993' },
    );
    const s = parseSpec(t);
    assert.equal(s.process!.rlimits![0]!.hard, 18446744073709551615n);
    assert.equal(s.process!.rlimits![0]!.soft, 18446744073709551614n);
    assert.equal(s.linux!.seccomp!.syscalls![0]!.args![0]!.value, 18446744073709551615n);
    assert.equal(s.linux!.seccomp!.syscalls![0]!.args![0]!.valueTwo, 9007199254740993n);
    rejects(() => parseSpec(t.replace('18446744073709551614', '18446744073709551616')), '$.process.rlimits[0].soft', /uint64/);
    rejects(() => parseSpec(t.replace('"value":18446744073709551615', '"value":18446744073709551616')), '$.linux.seccomp.syscalls[0].args[0].value', /uint64/);
  });

  test('a fraction that rounds to a whole double is not taken as an integer', () => {
    const t = text((s) => (s.linux.resources = { pids: { limit: 'P' } }), { P: '9007199254740993.5' });
    rejects(() => parseSpec(t), '$.linux.resources.pids.limit', /expected an integer, got 9007199254740993\.5/);
  });
});

describe('5 and 10: sysctl namespaces; security settings that cannot be applied', () => {
  const ns = (s: any, types: string[]) => (s.linux.namespaces = types.map((type) => ({ type })));

  test('runc\'s sysctl rules', () => {
    rejects(() => parse(mutate((s) => { ns(s, ['mount']); delete s.hostname; s.linux.sysctl = { 'kernel.domainname': 'x' }; })), '$.linux.sysctl["kernel.domainname"]', /host's uts namespace/);
    parse(mutate((s) => { ns(s, ['mount', 'uts']); s.linux.sysctl = { 'kernel.domainname': 'x' }; }));
    rejects(() => parse(mutate((s) => { ns(s, ['mount', 'uts']); s.linux.sysctl = { 'kernel.hostname': 'x' }; })), '$.linux.sysctl["kernel.hostname"]', /conflicts with the OCI "hostname" field/);
    rejects(() => parse(mutate((s) => { ns(s, ['mount', 'uts']); s.linux.sysctl = { 'kernel.shmmax': '1' }; })), '$.linux.sysctl["kernel.shmmax"]', /ipc namespace/);
    rejects(() => parse(mutate((s) => { ns(s, ['mount', 'uts']); s.linux.sysctl = { 'fs.mqueue.msg_max': '1' }; })), '$.linux.sysctl["fs.mqueue.msg_max"]', /ipc namespace/);
    parse(mutate((s) => { ns(s, ['mount', 'uts', 'ipc']); s.linux.sysctl = { 'kernel.shmmax': '1', 'fs.mqueue.msg_max': '1' }; }));
    rejects(() => parse(mutate((s) => { ns(s, ['mount', 'uts', 'ipc']); s.linux.sysctl = { 'net.ipv4.ip_forward': '1' }; })), '$.linux.sysctl["net.ipv4.ip_forward"]', /network namespace/);
    rejects(() => parse(mutate((s) => { s.linux.namespaces.push({ type: 'network', path: '/proc/self/ns/net' }); s.linux.sysctl = { 'net.ipv4.ip_forward': '1' }; })), '$.linux.sysctl["net.ipv4.ip_forward"]', /host's network namespace/);
    rejects(() => parse(mutate((s) => { ns(s, ['mount', 'uts', 'ipc', 'network', 'pid', 'cgroup']); s.linux.sysctl = { 'kernel.core_pattern': '|/x' }; })), '$.linux.sysctl["kernel.core_pattern"]', /not in a separate kernel namespace/);
    rejects(() => parse(mutate((s) => { ns(s, ['mount', 'network']); s.linux.sysctl = { 'net/../../kernel/core_pattern': '1' }; })), '$.linux.sysctl["net/../../kernel/core_pattern"]', /every part must be a name/);
  });

  test('maskedPaths/readonlyPaths need a mount namespace (runc\'s message)', () => {
    rejects(() => parse(mutate((s) => { ns(s, ['pid', 'uts']); s.linux.maskedPaths = ['/proc/kcore']; })), '$.linux.maskedPaths', /unable to restrict sys entries without a private MNT namespace/);
  });

  test('root.readonly and rootfsPropagation need a mount namespace of the container\'s own (runc would remount or re-propagate the host\'s)', () => {
    const noMnt = (s: any) => { ns(s, ['pid', 'uts']); delete s.linux.maskedPaths; delete s.linux.readonlyPaths; };
    rejects(() => parse(mutate((s) => { noMnt(s); s.root.readonly = true; })), '$.root.readonly', /needs a mount namespace of the container's own/);
    rejects(() => parse(mutate((s) => { noMnt(s); s.root.readonly = false; s.linux.rootfsPropagation = 'rslave'; })), '$.linux.rootfsPropagation', /needs a mount namespace of the container's own/);
    // joining berth-oci's own mount namespace by path is the same as listing none
    rejects(() => parse(mutate((s) => { ns(s, ['pid', 'uts']); s.linux.namespaces.push({ type: 'mount', path: '/proc/self/ns/mnt' }); s.linux.maskedPaths = ['/proc/kcore']; })), '$.linux.maskedPaths', /private MNT namespace/);
    parse(mutate((s) => { noMnt(s); s.root.readonly = false; }));
    parse(mutate((s) => { ns(s, ['pid', 'uts', 'mount']); s.root.readonly = true; s.linux.rootfsPropagation = 'rslave'; }));
  });

  test('apparmorProfile, selinuxLabel, mountLabel, intelRdt, seccomp listener: errors (an empty value asks for nothing)', () => {
    rejects(() => parse(mutate((s) => (s.process.apparmorProfile = 'p'))), '$.process.apparmorProfile', /AppArmor/);
    rejects(() => parse(mutate((s) => (s.process.selinuxLabel = 'l'))), '$.process.selinuxLabel', /selinux/);
    rejects(() => parse(mutate((s) => (s.linux.mountLabel = 'l'))), '$.linux.mountLabel', /selinux/);
    rejects(() => parse(mutate((s) => (s.linux.intelRdt = { l3CacheSchema: 'L3:0=f' }))), '$.linux.intelRdt.l3CacheSchema', /Intel RDT/);
    rejects(() => parse(mutate((s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/x' }))), '$.linux.seccomp.listenerPath', /notification/);
    parse(mutate((s) => { s.process.apparmorProfile = ''; s.process.selinuxLabel = ''; s.linux.mountLabel = ''; s.linux.intelRdt = {}; }));
  });
});
