// src/runtime/seccomp.ts: libseccomp action values and the records that build the filter.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { ARCH, actionValue, addSeccompBuild } from '../../src/runtime/seccomp.ts';
import { Plan } from '../../src/native/plan.ts';
import type { PlanRecord } from '../../src/native/plan.ts';
import type { Seccomp, SeccompAction } from '../../src/runtime/spec/types.ts';
import { SECCOMP_ACTIONS, SECCOMP_ARCHES } from '../../src/runtime/spec/validate.ts';

function build(sc: Seccomp): PlanRecord[] {
  const plan = new Plan();
  addSeccompBuild(plan, sc);
  return plan.records;
}

const rules = (recs: PlanRecord[]): string[][] => recs.filter((r) => r.op === 'seccomp_rule').map((r) => r.args);

const ALLOW = String(0x7fff0000);
const EPERM = String(0x50001);

describe('actionValue', () => {
  test('every action has its libseccomp value (SCMP_ACT_*)', () => {
    const want: Array<[SeccompAction, number]> = [
      ['SCMP_ACT_KILL', 0x00000000],
      ['SCMP_ACT_KILL_THREAD', 0x00000000],
      ['SCMP_ACT_KILL_PROCESS', 0x80000000],
      ['SCMP_ACT_TRAP', 0x00030000],
      ['SCMP_ACT_ERRNO', 0x00050001],
      ['SCMP_ACT_TRACE', 0x7ff00001],
      ['SCMP_ACT_LOG', 0x7ffc0000],
      ['SCMP_ACT_ALLOW', 0x7fff0000],
    ];
    for (const [action, value] of want) assert.equal(actionValue(action, undefined), value, action);
  });

  test('KILL_PROCESS is unsigned (0x80000000, not a negative int32)', () => {
    assert.ok(actionValue('SCMP_ACT_KILL_PROCESS', undefined) > 0);
  });

  test('ERRNO with errnoRet 38 (ENOSYS) is 0x50026', () => {
    assert.equal(actionValue('SCMP_ACT_ERRNO', 38), 0x50026);
  });

  test('ERRNO without errnoRet defaults to EPERM (0x50001)', () => {
    assert.equal(actionValue('SCMP_ACT_ERRNO', undefined), 0x50001);
  });

  test('errnoRet 0 is a valid errno return (kept, not replaced by EPERM)', () => {
    assert.equal(actionValue('SCMP_ACT_ERRNO', 0), 0x50000);
  });

  test('errnoRet is masked to 16 bits: 65535 fits, 65536 does not spill into the action', () => {
    assert.equal(actionValue('SCMP_ACT_ERRNO', 65535), 0x5ffff);
    assert.equal(actionValue('SCMP_ACT_ERRNO', 65536), 0x50000);
  });

  test('TRACE carries errnoRet as its message data (default EPERM)', () => {
    assert.equal(actionValue('SCMP_ACT_TRACE', 7), 0x7ff00007);
    assert.equal(actionValue('SCMP_ACT_TRACE', undefined), 0x7ff00001);
  });

  test('errnoRet is ignored by actions without data (ALLOW, KILL)', () => {
    assert.equal(actionValue('SCMP_ACT_ALLOW', 38), 0x7fff0000);
    assert.equal(actionValue('SCMP_ACT_KILL', 38), 0);
  });

  test('NOTIFY throws (no listener support)', () => {
    assert.throws(() => actionValue('SCMP_ACT_NOTIFY', undefined), /SCMP_ACT_NOTIFY/);
  });

  test('an unknown action throws, naming it', () => {
    assert.throws(() => actionValue('SCMP_ACT_ALLOWW', undefined), /unknown action "SCMP_ACT_ALLOWW"/);
  });

  test('every action the validator accepts except NOTIFY has a value', () => {
    for (const a of SECCOMP_ACTIONS) {
      if (a === 'SCMP_ACT_NOTIFY') continue;
      assert.equal(typeof actionValue(a, undefined), 'number', a);
    }
  });
});

describe('addSeccompBuild', () => {
  test('seccomp_init carries the default action, then arch, flag and rule records in that order', () => {
    const recs = build({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      flags: ['SECCOMP_FILTER_FLAG_LOG'],
      syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }],
    });
    assert.deepEqual(recs, [
      { op: 'seccomp_init', args: [String(0x50026)] },
      { op: 'seccomp_arch', args: [String(0xc000003e)] },
      { op: 'seccomp_arch', args: [String(0x40000003)] },
      { op: 'seccomp_flag', args: ['SECCOMP_FILTER_FLAG_LOG'] },
      { op: 'seccomp_rule', args: [ALLOW, 'read', '0'] },
    ]);
  });

  test('no seccomp_load record: loading is the plan builder\'s separate step', () => {
    const recs = build({ defaultAction: 'SCMP_ACT_ALLOW' });
    assert.deepEqual(recs.map((r) => r.op), ['seccomp_init']);
  });

  test('a rule whose action equals the default is skipped (libseccomp refuses it)', () => {
    const recs = build({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['mount'], action: 'SCMP_ACT_ERRNO' }, // EPERM = default → skipped
        { names: ['read'], action: 'SCMP_ACT_ALLOW' },
      ],
    });
    assert.deepEqual(rules(recs), [[ALLOW, 'read', '0']]);
  });

  test('ERRNO with a different errnoRet than the default is NOT the default action (kept)', () => {
    const recs = build({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }],
    });
    assert.deepEqual(rules(recs), [[String(0x50026), 'clone3', '0']]);
  });

  test('defaultErrnoRet 38 makes an ERRNO rule with errnoRet 38 equal to the default (skipped)', () => {
    const recs = build({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      syscalls: [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }, { names: ['kill'], action: 'SCMP_ACT_ERRNO' }],
    });
    assert.deepEqual(rules(recs), [[EPERM, 'kill', '0']]);
  });

  test('one rule record per syscall name', () => {
    const recs = build({ defaultAction: 'SCMP_ACT_KILL', syscalls: [{ names: ['read', 'write', 'close'], action: 'SCMP_ACT_ALLOW' }] });
    assert.deepEqual(rules(recs).map((r) => r[1]), ['read', 'write', 'close']);
  });

  test('conditions on different arg indexes stay together in one rule (AND)', () => {
    const recs = build({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{
        names: ['personality'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }, { index: 1, value: 0xff, valueTwo: 4, op: 'SCMP_CMP_MASKED_EQ' }],
      }],
    });
    assert.deepEqual(rules(recs), [[ALLOW, 'personality', '2', '0', '4', '8', '0', '1', '7', '255', '4']]);
  });

  test('conditions on the same arg index become separate rules (runc: alternatives)', () => {
    const recs = build({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{
        names: ['personality'],
        action: 'SCMP_ACT_ALLOW',
        args: [
          { index: 0, value: 0, op: 'SCMP_CMP_EQ' },
          { index: 0, value: 8, op: 'SCMP_CMP_EQ' },
          { index: 0, value: 131072, op: 'SCMP_CMP_EQ' },
        ],
      }],
    });
    assert.deepEqual(rules(recs), [
      [ALLOW, 'personality', '1', '0', '4', '0', '0'],
      [ALLOW, 'personality', '1', '0', '4', '8', '0'],
      [ALLOW, 'personality', '1', '0', '4', '131072', '0'],
    ]);
  });

  test('when one index repeats, every condition (even on other indexes) becomes its own rule, for every name', () => {
    const recs = build({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{
        names: ['a', 'b'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 0, value: 2, op: 'SCMP_CMP_EQ' }, { index: 2, value: 3, op: 'SCMP_CMP_NE' }],
      }],
    });
    assert.deepEqual(rules(recs).map((r) => `${r[1]}:${r[2]}:${r[3]}:${r[5]}`), ['a:1:0:1', 'a:1:0:2', 'a:1:2:3', 'b:1:0:1', 'b:1:0:2', 'b:1:2:3']);
  });

  test('operators map to libseccomp scmp_compare values (NE=1 … MASKED_EQ=7)', () => {
    const ops = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'] as const;
    ops.forEach((op, i) => {
      const recs = build({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 5, op }] }] });
      assert.equal(rules(recs)[0]![4], String(i + 1), op);
    });
  });

  test('argument values beyond 2^53 are carried as exact decimal integers', () => {
    const recs = build({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: ['x'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2 ** 63, valueTwo: 2 ** 62, op: 'SCMP_CMP_MASKED_EQ' }] }],
    });
    assert.deepEqual(rules(recs)[0]!.slice(5), ['9223372036854775808', '4611686018427387904']);
  });

  test('arch names map to AUDIT_ARCH values', () => {
    const want: Record<string, number> = {
      SCMP_ARCH_X86: 0x40000003, SCMP_ARCH_X86_64: 0xc000003e, SCMP_ARCH_X32: 0x4000003e,
      SCMP_ARCH_ARM: 0x40000028, SCMP_ARCH_AARCH64: 0xc00000b7,
      SCMP_ARCH_MIPS: 0x8, SCMP_ARCH_MIPS64: 0x80000008, SCMP_ARCH_MIPS64N32: 0xa0000008,
      SCMP_ARCH_MIPSEL: 0x40000008, SCMP_ARCH_MIPSEL64: 0xc0000008, SCMP_ARCH_MIPSEL64N32: 0xe0000008,
      SCMP_ARCH_PPC: 0x14, SCMP_ARCH_PPC64: 0x80000015, SCMP_ARCH_PPC64LE: 0xc0000015,
      SCMP_ARCH_S390: 0x16, SCMP_ARCH_S390X: 0x80000016,
      SCMP_ARCH_PARISC: 0xf, SCMP_ARCH_PARISC64: 0x8000000f, SCMP_ARCH_RISCV64: 0xc00000f3,
    };
    for (const [name, v] of Object.entries(want)) {
      assert.equal(ARCH[name], v, name);
      const recs = build({ defaultAction: 'SCMP_ACT_ALLOW', architectures: [name as never] });
      assert.deepEqual(recs[1], { op: 'seccomp_arch', args: [String(v)] }, name);
    }
  });

  test('every architecture the validator accepts (incl. LOONGARCH64, M68K, SH, SHEB) has an AUDIT_ARCH value', () => {
    const missing = [...SECCOMP_ARCHES].filter((a) => ARCH[a] === undefined);
    assert.deepEqual(missing, [], 'validate.ts accepts these but addSeccompBuild throws "unknown architecture"');
  });

  test('an unknown arch throws, naming it', () => {
    assert.throws(() => build({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_VAX' as never] }), /unknown architecture "SCMP_ARCH_VAX"/);
  });

  test('an unknown operator throws, naming it', () => {
    assert.throws(() => build({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: ['x'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_LIKE' as never }] }],
    }), /unknown argument operator "SCMP_CMP_LIKE"/);
  });

  test('NOTIFY as a rule action or as the default throws', () => {
    assert.throws(() => build({ defaultAction: 'SCMP_ACT_NOTIFY' }), /NOTIFY/);
    assert.throws(() => build({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_NOTIFY' }] }), /NOTIFY/);
  });
});
