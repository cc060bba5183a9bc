/**
 * Reading extended attributes, which Node's fs cannot do. berth-init only sets them (its plan has
 * setxattr_at, no getter), so the reads go through one co-process of perl, which is Essential in
 * Debian (perl-base) and whose core `syscall()` reaches llistxattr(2)/lgetxattr(2) directly:
 * no module, no extra package. One process serves a whole export: paths go in NUL-terminated,
 * answers come back length-prefixed, in order.
 *
 * Answer framing (big-endian u32s): COUNT, then COUNT × (NAMELEN NAME VALUELEN VALUE);
 * or 0xFFFFFFFF ERRNO when the path cannot be read. A filesystem without xattrs (ENOTSUP)
 * answers COUNT 0.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { ArchiveError } from './errors.ts';

export const PERL = '/usr/bin/perl';

/** llistxattr / lgetxattr syscall numbers of the architectures berth runs on. */
const SYSCALLS: Readonly<Record<string, readonly [number, number]>> = {
  x64: [195, 192],
  arm64: [12, 9],
};

const SCRIPT = String.raw`
use strict; use warnings;
my ($LIST, $GET) = @ARGV;
binmode STDIN; binmode STDOUT; $| = 1;
local $/ = "\0";
my $size = 65536;
while (defined(my $p = <STDIN>)) {
  chop $p;
  my $buf = "\0" x $size;
  my $n = syscall($LIST, $p, $buf, $size);
  if ($n < 0) {
    my $e = $! + 0;
    if ($e == 95) { print pack("N", 0); } else { print pack("NN", 0xFFFFFFFF, $e); }
    next;
  }
  my $out = ""; my $count = 0; my $err = 0;
  for my $name (grep { length } split /\0/, substr($buf, 0, $n)) {
    my $v = "\0" x $size;
    my $m = syscall($GET, $p, $name, $v, $size);
    if ($m < 0) { next if ($! + 0) == 61; $err = $! + 0; last; }
    $out .= pack("N/a* N/a*", $name, substr($v, 0, $m)); $count++;
  }
  if ($err) { print pack("NN", 0xFFFFFFFF, $err); } else { print pack("N", $count), $out; }
}
`;

interface Pending {
  path: string;
  resolve: (m: Map<string, Buffer>) => void;
  reject: (e: Error) => void;
}

export class XattrReader {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #pending: Pending[] = [];
  #buf = Buffer.alloc(0);
  #failed: Error | undefined;

  constructor() {
    const nums = SYSCALLS[process.arch];
    if (!nums) throw new ArchiveError(`reading xattrs: no syscall numbers for ${process.arch}`);
    this.#child = spawn(PERL, ['-e', SCRIPT, String(nums[0]), String(nums[1])], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    this.#child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s.slice(0, 2000)));
    this.#child.stdout.on('data', (c: Buffer) => this.#onData(c));
    this.#child.stdin.on('error', () => undefined);
    const fail = (why: string): void => {
      this.#failed ??= new ArchiveError(`reading xattrs (${PERL}): ${why}${stderr ? `: ${stderr.trim()}` : ''}`);
      for (const p of this.#pending.splice(0)) p.reject(this.#failed);
    };
    this.#child.on('error', (e) => fail(e.message));
    this.#child.on('close', (code, signal) => { if (this.#pending.length > 0) fail(`exited with ${signal ?? code}`); });
  }

  #onData(c: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, c]);
    for (;;) {
      const p = this.#pending[0];
      if (!p) return;
      const parsed = this.#parse();
      if (parsed === undefined) return;
      this.#pending.shift();
      if (parsed instanceof Error) p.reject(new ArchiveError(`reading xattrs of ${p.path}: ${parsed.message}`));
      else p.resolve(parsed);
    }
  }

  /** One complete answer from the buffer (consumed), or undefined if it has not all arrived. */
  #parse(): Map<string, Buffer> | Error | undefined {
    const b = this.#buf;
    if (b.length < 4) return undefined;
    const count = b.readUInt32BE(0);
    if (count === 0xffffffff) {
      if (b.length < 8) return undefined;
      this.#buf = b.subarray(8);
      return new Error(`errno ${b.readUInt32BE(4)}`);
    }
    const out = new Map<string, Buffer>();
    let at = 4;
    for (let i = 0; i < count; i++) {
      if (b.length < at + 4) return undefined;
      const nl = b.readUInt32BE(at);
      if (b.length < at + 4 + nl + 4) return undefined;
      const name = b.subarray(at + 4, at + 4 + nl).toString('utf8');
      const vl = b.readUInt32BE(at + 4 + nl);
      if (b.length < at + 8 + nl + vl) return undefined;
      out.set(name, Buffer.from(b.subarray(at + 8 + nl, at + 8 + nl + vl)));
      at += 8 + nl + vl;
    }
    this.#buf = b.subarray(at);
    return out;
  }

  /** The xattrs of `path` (not following a symlink), name → raw value. */
  read(path: string): Promise<Map<string, Buffer>> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (path.includes('\0')) return Promise.reject(new ArchiveError(`reading xattrs: NUL in path ${JSON.stringify(path)}`));
    return new Promise((resolve, reject) => {
      this.#pending.push({ path, resolve, reject });
      this.#child.stdin.write(`${path}\0`);
    });
  }

  /** Ends the co-process and waits for it to exit. */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.#child.once('close', () => r()));
    this.#child.stdin.end();
    await exited;
  }
}
