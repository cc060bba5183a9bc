/**
 * Compiled seccomp programs, keyed by what they were compiled from. libseccomp turns the same
 * records (default action, architectures, flags, rules) into the same BPF program, and compiling
 * docker's default profile (some 360 rules) costs more than everything else berth-init does for
 * a container: so the first container with a profile has berth-init compile it and send the
 * program back, and later ones are given the program to load, with no rule records at all.
 *
 * Kept in memory (berthd lives long) and on disk under the runtime root (each berth-oci command
 * is a new process). A file is trusted only if its header names the key asked for, its length is
 * the instruction count's and its sha256 matches: anything else is ignored and, once compiled
 * again, replaced.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { arch, release } from 'node:os';
import type { PlanRecord } from '../native/plan.ts';
import { findNativeBinary } from '../native/binary.ts';

/** struct sock_filter: u16 code, u8 jt, u8 jf, u32 k */
const INSN_BYTES = 8;
/** BPF_MAXINSNS: the kernel refuses a longer classic BPF program */
export const MAX_INSNS = 4096;
const MAGIC = 'berth seccomp program 1';
/** profiles in memory at once; a daemon sees a handful (docker's default, per-capability variants) */
const MEMORY_ENTRIES = 64;

let helperIdentity: string | undefined;

/**
 * What besides the records decides the program: the libseccomp that compiles it (linked into
 * berth-init: a rebuilt helper may compile differently), the machine's architecture (the native
 * one is always in the filter) and the kernel (libseccomp asks it which actions it supports).
 */
function hostIdentity(): string {
  if (helperIdentity === undefined) {
    let helper = 'berth-init unknown';
    try {
      const path = findNativeBinary('berth-init');
      const st = statSync(path);
      helper = `${path} ${st.size} ${st.mtimeMs} ${st.ino}`;
    } catch { /* not built: creating the container will say so */ }
    helperIdentity = `${helper}\0${arch()}\0${release()}`;
  }
  return helperIdentity;
}

/** The cache key of the program the records compile to: sha256, hex. */
export function programKey(records: readonly PlanRecord[]): string {
  const h = createHash('sha256');
  h.update(`${MAGIC}\0${hostIdentity()}\0`);
  for (const r of records) h.update(`${r.op}\0${r.args.length}\0${r.args.join('\0')}\0`);
  return h.digest('hex');
}

/**
 * A program's bytes, if they have the shape of one: whole instructions, 1 to BPF_MAXINSNS of
 * them, the last a BPF_RET (a filter that could run off its end is not one libseccomp made).
 */
export function checkProgram(prog: Buffer): boolean {
  if (prog.length === 0 || prog.length % INSN_BYTES !== 0 || prog.length / INSN_BYTES > MAX_INSNS) return false;
  const lastCode = prog.readUInt16LE(prog.length - INSN_BYTES);
  return (lastCode & 0x07) === 0x06;
}

export class SeccompCache {
  private readonly memory = new Map<string, Buffer>();

  /** `dir`: where programs are kept on disk; none: in memory only */
  constructor(private readonly dir?: string) {}

  private file(key: string): string {
    return `${this.dir}/${key}.bpf`;
  }

  /** The program compiled for `key`, or undefined (never cached, or its file is not intact). */
  get(key: string): Buffer | undefined {
    const hit = this.memory.get(key);
    if (hit) return hit;
    if (!this.dir) return undefined;
    let data: Buffer;
    try {
      data = readFileSync(this.file(key));
    } catch {
      return undefined;
    }
    const prog = parseEntry(data, key);
    if (prog) this.remember(key, prog);
    return prog;
  }

  /** Keeps the program berth-init compiled for `key`; false if it is not one (nothing kept). */
  put(key: string, prog: Buffer): boolean {
    if (!checkProgram(prog)) return false;
    this.remember(key, prog);
    if (!this.dir) return true;
    // a failed write costs the next command a compile, nothing else: the cache is never needed
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const tmp = `${this.file(key)}.${process.pid}.tmp`;
      writeFileSync(tmp, formatEntry(key, prog), { mode: 0o600 });
      renameSync(tmp, this.file(key));
    } catch { /* read-only or full: memory only */ }
    return true;
  }

  private remember(key: string, prog: Buffer): void {
    this.memory.delete(key);
    this.memory.set(key, prog);
    if (this.memory.size > MEMORY_ENTRIES) this.memory.delete(this.memory.keys().next().value!);
  }
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** `MAGIC\nkey K\ninsns N\nsha256 S\n\n` then the N instructions as the kernel takes them. */
export function formatEntry(key: string, prog: Buffer): Buffer {
  const head = `${MAGIC}\nkey ${key}\ninsns ${prog.length / INSN_BYTES}\nsha256 ${sha256(prog)}\n\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), prog]);
}

const HEAD_RE = new RegExp(`^${MAGIC}\\nkey ([0-9a-f]{64})\\ninsns ([1-9][0-9]{0,3})\\nsha256 ([0-9a-f]{64})\\n\\n$`);

/** The program of a cache file, if the file is intact and is the one for `key`. */
export function parseEntry(data: Buffer, key: string): Buffer | undefined {
  const end = data.subarray(0, 256).indexOf('\n\n', 0, 'latin1');
  if (end < 0) return undefined;
  const m = HEAD_RE.exec(data.subarray(0, end + 2).toString('latin1'));
  if (!m || m[1] !== key) return undefined;
  const prog = data.subarray(end + 2);
  if (prog.length !== Number(m[2]) * INSN_BYTES || !checkProgram(prog) || sha256(prog) !== m[3]) return undefined;
  return Buffer.from(prog);
}
