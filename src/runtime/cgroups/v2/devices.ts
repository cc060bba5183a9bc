/**
 * cgroup v2 devices: v2 has no devices.allow/deny files; access to device nodes is decided by an
 * eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the cgroup. This module compiles
 * linux.resources.devices into that program, in the manner of runc's and crun's device filters,
 * and hands it to berth-init as a plan record (`bpf_devices DIR HEX`), which loads and attaches it
 * (native/src/bpfdev.c).
 *
 * Semantics: the rules apply in config order and, for each access bit (m, r, w) of a request,
 * the last rule that matches the device and has that bit decides; a request is allowed when every
 * bit it asks for is. Rule type "a" (or none) matches block and character devices, a missing or -1
 * major/minor matches any, a missing access means "rwm". With no rule deciding, access is denied
 * (an allow-list, as runc's program: the usual config starts with a deny-all rule anyway).
 * A rule matching every device (type a, no major, no minor) overrides all earlier rules for its
 * bits, so those are left out of the program.
 *
 * The program, per access bit B (M=1, R=2, W=4), with r2 = device type, r3 = access bits, r4 =
 * major, r5 = minor:
 *
 *     if !(r3 & B) goto next          ; B not requested
 *     ; the rules that have B, last first
 *     if r2 != TYPE goto rule2 ; if r4 != MAJOR goto rule2 ; if r5 != MINOR goto rule2
 *     goto next | goto deny          ; this rule decides B
 *   rule2: ...
 *     goto deny                      ; (or fall through when the default is allow)
 *   next: … the next bit …
 *     r0 = 1; exit                   ; every requested bit allowed
 *   deny: r0 = 0; exit
 */
import { endianness } from 'node:os';
import type { DeviceCgroupRule } from '../../spec/types.ts';
import type { PlanRecord } from '../../../native/plan.ts';
import { Plan } from '../../../native/plan.ts';
import { runOneOffPlan } from '../../../native/helper.ts';
import { explain } from '../../trace.ts';

/** struct bpf_insn, one 8-byte eBPF instruction. */
export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** The opcodes the device filter uses (class | op | source). */
export const OP = {
  LDXW: 0x61, // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
  AND32: 0x54, // BPF_ALU | BPF_AND | BPF_K
  RSH32: 0x74, // BPF_ALU | BPF_RSH | BPF_K
  MOV32: 0xb4, // BPF_ALU | BPF_MOV | BPF_K
  JNE: 0x55, // BPF_JMP | BPF_JNE | BPF_K
  JSET: 0x45, // BPF_JMP | BPF_JSET | BPF_K
  JA: 0x05, // BPF_JMP | BPF_JA
  EXIT: 0x95, // BPF_JMP | BPF_EXIT
} as const;

/** BPF_DEVCG_DEV_* (the low 16 bits of bpf_cgroup_dev_ctx.access_type) */
export const DEV_BLOCK = 1;
export const DEV_CHAR = 2;
/** BPF_DEVCG_ACC_* (the high 16 bits) */
export const ACC_MKNOD = 1;
export const ACC_READ = 2;
export const ACC_WRITE = 4;

const ACCESS_BITS: Record<string, number> = { m: ACC_MKNOD, r: ACC_READ, w: ACC_WRITE };
const MAX_ID = 0x7fffffff; // JNE's immediate is a signed 32-bit number

/** The name berth-init gives the programs it loads: it replaces only programs of that name. */
export const PROGRAM_NAME = 'berth_devices';

interface Rule {
  allow: boolean;
  /** DEV_BLOCK, DEV_CHAR, or undefined for both */
  type?: number;
  major?: number;
  minor?: number;
  access: number;
}

function normalize(r: DeviceCgroupRule, i: number): Rule {
  const where = `linux.resources.devices[${i}]`;
  const type = r.type === 'c' ? DEV_CHAR : r.type === 'b' ? DEV_BLOCK : r.type === undefined || r.type === 'a' ? undefined : NaN;
  if (Number.isNaN(type)) throw new Error(`${where}: device rule type "${r.type as string}" is not a, b or c`);
  const id = (n: number | undefined, what: string): number | undefined => {
    if (n === undefined || n === -1) return undefined;
    if (!Number.isInteger(n) || n < 0 || n > MAX_ID) throw new Error(`${where}: ${what} ${n} is out of range (-1 for any, else 0..${MAX_ID})`);
    return n;
  };
  let access = 0;
  for (const ch of r.access ?? 'rwm') {
    const bit = ACCESS_BITS[ch];
    if (bit === undefined) throw new Error(`${where}: device access "${r.access}" may only contain r, w and m`);
    access |= bit;
  }
  return { allow: r.allow, type, major: id(r.major, 'major'), minor: id(r.minor, 'minor'), access };
}

function matchesEverything(r: Rule): boolean {
  return r.type === undefined && r.major === undefined && r.minor === undefined;
}

/** A tiny assembler: instructions with symbolic jump targets, resolved at the end. */
class Asm {
  private readonly insns: (BpfInsn & { target?: string })[] = [];
  private readonly labels = new Map<string, number>();

  private emit(code: number, dst: number, src: number, off: number, imm: number, target?: string): void {
    this.insns.push({ code, dst, src, off, imm, target });
  }

  ldxw(dst: number, src: number, off: number): void { this.emit(OP.LDXW, dst, src, off, 0); }
  and32(dst: number, imm: number): void { this.emit(OP.AND32, dst, 0, 0, imm); }
  rsh32(dst: number, imm: number): void { this.emit(OP.RSH32, dst, 0, 0, imm); }
  mov32(dst: number, imm: number): void { this.emit(OP.MOV32, dst, 0, 0, imm); }
  jne(dst: number, imm: number, target: string): void { this.emit(OP.JNE, dst, 0, 0, imm, target); }
  jset(dst: number, imm: number, target: string): void { this.emit(OP.JSET, dst, 0, 0, imm, target); }
  ja(target: string): void { this.emit(OP.JA, 0, 0, 0, 0, target); }
  exit(): void { this.emit(OP.EXIT, 0, 0, 0, 0); }
  label(name: string): void { this.labels.set(name, this.insns.length); }

  referenced(name: string): boolean {
    return this.insns.some((i) => i.target === name);
  }

  finish(): BpfInsn[] {
    return this.insns.map((i, pc) => {
      if (i.target === undefined) return { code: i.code, dst: i.dst, src: i.src, off: i.off, imm: i.imm };
      const to = this.labels.get(i.target);
      if (to === undefined) throw new Error(`device filter: internal error: label ${i.target} is not placed`);
      const off = to - (pc + 1);
      if (off < 0 || off > 0x7fff) throw new Error(`device filter: too many device rules (a jump of ${off} instructions)`);
      return { code: i.code, dst: i.dst, src: i.src, off, imm: i.imm };
    });
  }
}

/** Compiles the spec's device rules into the eBPF program (see the top of this file). */
export function deviceFilter(rules: DeviceCgroupRule[]): BpfInsn[] {
  const rs = rules.map(normalize);
  const p = new Asm();
  // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; } at r1
  p.ldxw(2, 1, 0);
  p.and32(2, 0xffff); // r2 = device type
  p.ldxw(3, 1, 0);
  p.rsh32(3, 16); // r3 = access bits
  p.ldxw(4, 1, 4); // r4 = major
  p.ldxw(5, 1, 8); // r5 = minor

  for (const bit of [ACC_MKNOD, ACC_READ, ACC_WRITE]) {
    // the last rule matching every device for this bit sets the default; earlier ones are moot
    let start = 0;
    let allowByDefault = false;
    rs.forEach((r, i) => {
      if (r.access & bit && matchesEverything(r)) {
        start = i + 1;
        allowByDefault = r.allow;
      }
    });
    const list = rs.slice(start).filter((r) => r.access & bit);
    // leading rules that agree with the default decide nothing the default would not
    while (list.length && list[0]!.allow === allowByDefault) list.shift();
    if (!list.length) {
      if (!allowByDefault) p.jset(3, bit, 'deny');
      continue;
    }
    const next = `next-${bit}`;
    p.jset(3, bit, `rules-${bit}`);
    p.ja(next);
    p.label(`rules-${bit}`);
    for (let k = list.length - 1; k >= 0; k--) {
      const r = list[k]!;
      const skip = `rule-${bit}-${k}`;
      if (r.type !== undefined) p.jne(2, r.type, skip);
      if (r.major !== undefined) p.jne(4, r.major, skip);
      if (r.minor !== undefined) p.jne(5, r.minor, skip);
      p.ja(r.allow ? next : 'deny');
      p.label(skip);
    }
    if (!allowByDefault) p.ja('deny');
    p.label(next);
  }
  p.mov32(0, 1);
  p.exit();
  // the verifier refuses unreachable instructions: the deny block only when something jumps to it
  if (p.referenced('deny')) {
    p.label('deny');
    p.mov32(0, 0);
    p.exit();
  }
  return p.finish();
}

/** The program as hex, struct bpf_insn by struct bpf_insn, in this machine's byte order. */
export function encodeProgram(insns: BpfInsn[], order: 'LE' | 'BE' = endianness()): string {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((i, n) => {
    const o = n * 8;
    buf[o] = i.code;
    // the dst_reg:4/src_reg:4 bitfield: dst in the low nibble on little-endian machines
    buf[o + 1] = order === 'LE' ? (i.src << 4) | i.dst : (i.dst << 4) | i.src;
    if (order === 'LE') {
      buf.writeInt16LE(i.off, o + 2);
      buf.writeInt32LE(i.imm, o + 4);
    } else {
      buf.writeInt16BE(i.off, o + 2);
      buf.writeInt32BE(i.imm, o + 4);
    }
  });
  return buf.toString('hex');
}

export function decodeProgram(hex: string, order: 'LE' | 'BE' = endianness()): BpfInsn[] {
  if (!/^([0-9a-f]{16})*$/.test(hex)) throw new Error('device filter: not a hex string of 8-byte instructions');
  const buf = Buffer.from(hex, 'hex');
  const out: BpfInsn[] = [];
  for (let o = 0; o < buf.length; o += 8) {
    const regs = buf[o + 1]!;
    out.push({
      code: buf[o]!,
      dst: order === 'LE' ? regs & 0xf : regs >> 4,
      src: order === 'LE' ? regs >> 4 : regs & 0xf,
      off: order === 'LE' ? buf.readInt16LE(o + 2) : buf.readInt16BE(o + 2),
      imm: order === 'LE' ? buf.readInt32LE(o + 4) : buf.readInt32BE(o + 4),
    });
  }
  return out;
}

/** One line per instruction, in the kernel verifier's notation (for tests and traces). */
export function disassemble(insns: BpfInsn[]): string[] {
  return insns.map((i, pc) => {
    const to = `goto ${pc + 1 + i.off}`;
    switch (i.code) {
      case OP.LDXW: return `${pc}: r${i.dst} = *(u32 *)(r${i.src} + ${i.off})`;
      case OP.AND32: return `${pc}: w${i.dst} &= 0x${i.imm.toString(16)}`;
      case OP.RSH32: return `${pc}: w${i.dst} >>= ${i.imm}`;
      case OP.MOV32: return `${pc}: w${i.dst} = ${i.imm}`;
      case OP.JNE: return `${pc}: if r${i.dst} != ${i.imm} ${to}`;
      case OP.JSET: return `${pc}: if r${i.dst} & 0x${i.imm.toString(16)} ${to}`;
      case OP.JA: return `${pc}: ${to}`;
      case OP.EXIT: return `${pc}: exit`;
      default: return `${pc}: (0x${i.code.toString(16)}) ?`;
    }
  });
}

/**
 * The plan record that makes berth-init load the program for `rules` and attach it to the v2
 * cgroup `dir` (replacing the program berth attached before). No rules given (`undefined`) means
 * no device restriction was asked for: no record. Goes in the create plan before `clone`.
 */
export function devicesRecords(dir: string, rules: DeviceCgroupRule[] | undefined): PlanRecord[] {
  if (rules === undefined) return [];
  return [{ op: 'bpf_devices', args: [dir, encodeProgram(deviceFilter(rules))] }];
}

/** The record that detaches berth's device programs from `dir` and attaches none. */
export function devicesDetachRecord(dir: string): PlanRecord {
  return { op: 'bpf_devices', args: [dir, ''] };
}

/**
 * A one-off plan (for `update`): the device records, then `done`, on which berth-init reports
 * "done" and exits 0. Run it with `runOneOffPlan`.
 */
export function oneOffPlan(records: PlanRecord[]): Plan {
  const plan = new Plan();
  for (const r of records) plan.add(r.op, ...r.args);
  return plan.add('done');
}

/** Runs a one-off plan through berth-init and waits for its "done"; a failed record throws. */

/** Attaches the program for `rules` to the v2 cgroup `dir` now (update of a running container). */
export async function applyDevices(dir: string, rules: DeviceCgroupRule[], what: string): Promise<void> {
  await runOneOffPlan(oneOffPlan(devicesRecords(dir, rules)), what, explain);
}
