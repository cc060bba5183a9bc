import type { Seccomp, SeccompArg } from './spec/types.ts';
import { Plan, type Arg } from '../native/plan.ts';
import { programKey, type SeccompCache } from './seccomp-cache.ts';

/** libseccomp's action values (seccomp.h); ERRNO and TRACE carry their data in the low 16 bits. */
export function actionValue(action: string, errnoRet: number | undefined): number {
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD': return 0;
    case 'SCMP_ACT_KILL_PROCESS': return 0x80000000;
    case 'SCMP_ACT_TRAP': return 0x00030000;
    case 'SCMP_ACT_ERRNO': return (0x00050000 | ((errnoRet ?? 1) & 0xffff)) >>> 0;
    case 'SCMP_ACT_TRACE': return (0x7ff00000 | ((errnoRet ?? 1) & 0xffff)) >>> 0;
    case 'SCMP_ACT_LOG': return 0x7ffc0000;
    case 'SCMP_ACT_ALLOW': return 0x7fff0000;
    case 'SCMP_ACT_NOTIFY': throw new Error('seccomp: SCMP_ACT_NOTIFY needs a listener, which berth-oci does not support yet');
    default: throw new Error(`seccomp: unknown action "${action}"`);
  }
}

/** AUDIT_ARCH_* values, which libseccomp uses as SCMP_ARCH_*. */
export const ARCH: Readonly<Record<string, number>> = {
  SCMP_ARCH_X86: 0x40000003, SCMP_ARCH_X86_64: 0xc000003e, SCMP_ARCH_X32: 0x4000003e,
  SCMP_ARCH_ARM: 0x40000028, SCMP_ARCH_AARCH64: 0xc00000b7,
  SCMP_ARCH_MIPS: 0x8, SCMP_ARCH_MIPS64: 0x80000008, SCMP_ARCH_MIPS64N32: 0xa0000008,
  SCMP_ARCH_MIPSEL: 0x40000008, SCMP_ARCH_MIPSEL64: 0xc0000008, SCMP_ARCH_MIPSEL64N32: 0xe0000008,
  SCMP_ARCH_PPC: 0x14, SCMP_ARCH_PPC64: 0x80000015, SCMP_ARCH_PPC64LE: 0xc0000015,
  SCMP_ARCH_S390: 0x16, SCMP_ARCH_S390X: 0x80000016, SCMP_ARCH_PARISC: 0xf, SCMP_ARCH_PARISC64: 0x8000000f,
  SCMP_ARCH_RISCV64: 0xc00000f3, SCMP_ARCH_LOONGARCH64: 0xc0000102, SCMP_ARCH_M68K: 0x4,
  SCMP_ARCH_SH: 0x4000002a, SCMP_ARCH_SHEB: 0x2a,
};

const OP: Readonly<Record<string, number>> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};

function cond(a: SeccompArg): (string | number | bigint)[] {
  const op = OP[a.op];
  if (op === undefined) throw new Error(`seccomp: unknown argument operator "${a.op}"`);
  return [a.index, op, BigInt(a.value), BigInt(a.valueTwo ?? 0)];
}

/**
 * Adds the records that build the filter (stage 0, before clone, so that an unknown syscall or
 * architecture fails before anything exists). Loading is a separate `seccomp_load` record.
 */
export function addSeccompBuild(plan: Plan, sc: Seccomp): void {
  const def = actionValue(sc.defaultAction, sc.defaultErrnoRet);
  plan.add('seccomp_init', def);
  for (const arch of sc.architectures ?? []) {
    const v = ARCH[arch];
    if (v === undefined) throw new Error(`seccomp: unknown architecture "${arch}"`);
    plan.add('seccomp_arch', v);
  }
  for (const f of sc.flags ?? []) plan.add('seccomp_flag', f);
  for (const rule of sc.syscalls ?? []) {
    const action = actionValue(rule.action, rule.errnoRet);
    // libseccomp refuses a rule whose action is the default one; it would change nothing anyway
    if (action === def) continue;
    const args = rule.args ?? [];
    const perIndex = new Map<number, number>();
    for (const a of args) perIndex.set(a.index, (perIndex.get(a.index) ?? 0) + 1);
    // conditions on the same argument are alternatives (runc's reading): one rule each
    const alternatives = [...perIndex.values()].some((n) => n > 1) ? args.map((a) => [a]) : [args];
    for (const name of rule.names) {
      for (const alt of alternatives) plan.add('seccomp_rule', action, name, alt.length, ...alt.flatMap(cond));
    }
  }
}

/**
 * The seccomp part of stage 0 and what the `seccomp_load` record carries (its arguments only
 * explain it in the trace; berth-init loads the program it holds).
 *
 * A program cached for the same records is given as is (`seccomp_program`): berth-init decodes
 * it and loads it, libseccomp does nothing. Otherwise the filter is built as before and
 * `seccomp_export` has libseccomp compile it, still before clone (so that the init has nothing
 * left to compute), and send it to us to cache (`compileKey`). The flags are records of their
 * own in both cases: they go to the seccomp(2) of the load, not into the program.
 */
export function addSeccomp(plan: Plan, sc: Seccomp, cache?: SeccompCache): { loadArgs: Arg[]; compileKey?: string } {
  const build = new Plan();
  addSeccompBuild(build, sc);
  const key = programKey(build.records);
  const prog = cache?.get(key);
  if (prog) {
    for (const f of sc.flags ?? []) plan.add('seccomp_flag', f);
    const insns = prog.length / 8;
    plan.add('seccomp_program', key, insns, prog.toString('hex'));
    return { loadArgs: ['cached', key, insns] };
  }
  plan.records.push(...build.records);
  plan.add('seccomp_export', key);
  return { loadArgs: ['compiled', key], compileKey: key };
}
