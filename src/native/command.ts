/**
 * Short host commands a daemon runs often (ip, nft, unshare): forked by the zygote when there is
 * one, so berthd never forks itself; by Node otherwise (the CLI, tests). The command's stdin is
 * `input` (then EOF), its stdout and stderr come back together as `output`.
 */
import { spawn } from 'node:child_process';

import { currentZygote } from './helper.ts';
import { Plan } from './plan.ts';
import { RuntimeError } from './errors.ts';

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr, interleaved as written */
  output: string;
}

/** Runs `argv` (argv[0] an absolute path) to its end; never rejects for a non-zero exit. */
export function runCommand(argv: string[], input?: string | Buffer): Promise<CommandResult> {
  if (!argv[0]?.startsWith('/')) throw new RuntimeError(`runCommand: ${JSON.stringify(argv[0])} is not an absolute path`);
  const z = currentZygote();
  return z ? viaZygote(argv, input) : viaNode(argv, input);
}

/** runCommand that throws, saying `what` failed and the command's own words, unless it exits 0. */
export async function runChecked(what: string, argv: string[], input?: string | Buffer): Promise<string> {
  const r = await runCommand(argv, input);
  if (r.code !== 0) {
    const words = r.output.trim().replace(/\s*\n\s*/g, '; ');
    throw new RuntimeError(`${what}: ${argv.map((a) => a.split('/').pop()).slice(0, 3).join(' ')} exited ${r.signal ?? r.code}${words ? `: ${words}` : ''}`);
  }
  return r.output;
}

function viaZygote(argv: string[], input?: string | Buffer): Promise<CommandResult> {
  const z = currentZygote()!;
  return new Promise((resolve, reject) => {
    const sock = z.connect();
    const chunks: Buffer[] = [];
    let pid = 0;
    let head = Buffer.alloc(0);
    // a command that exits without reading all its input resets the connection: its exit says how it ended
    sock.on('error', (e) => { if (!pid) reject(new RuntimeError(`${argv[0]}: through the zygote: ${e.message}`)); });
    sock.on('data', (d: Buffer) => {
      if (pid) return void chunks.push(d);
      head = Buffer.concat([head, d]);
      const nl = head.indexOf(10);
      if (nl < 0) return;
      const m = /^forked\t(\d+)$/.exec(head.subarray(0, nl).toString());
      if (!m) return void reject(new RuntimeError(`${argv[0]}: unexpected reply from the zygote: ${head.toString().slice(0, 200)}`));
      pid = Number(m[1]);
      chunks.push(head.subarray(nl + 1));
    });
    sock.on('close', () => {
      if (!pid) return reject(new RuntimeError(`${argv[0]}: the zygote closed the connection before forking`));
      void z.exitOf(pid).then((x) => resolve({ code: x.code, signal: x.signal, output: Buffer.concat(chunks).toString() }));
    });
    sock.write(new Plan().add('run', ...argv).encode());
    if (input !== undefined && input.length > 0) sock.write(input);
    sock.end();
  });
}

function viaNode(argv: string[], input?: string | Buffer): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => chunks.push(d));
    child.once('error', (e) => reject(new RuntimeError(`${argv[0]}: ${e.message}`)));
    child.once('close', (code, signal) => resolve({ code, signal, output: Buffer.concat(chunks).toString() }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/**
 * One of the zygote's own operations (`netns PATH`, `umount PATH`): a forked child doing a few
 * syscalls, no exec. Resolves true when done, false when there is no zygote (the caller execs the
 * tools instead); rejects with the child's error line.
 */
export function zygoteOp(op: 'netns' | 'umount', path: string): Promise<boolean> {
  const z = currentZygote();
  if (!z) return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    const sock = z.connect();
    let text = '';
    let pid = 0;
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (text += d));
    sock.on('error', (e) => reject(new RuntimeError(`${op} ${path}: through the zygote: ${e.message}`)));
    sock.on('close', () => {
      const lines = text.split('\n').filter(Boolean);
      pid = Number(/^forked\t(\d+)$/.exec(lines[0] ?? '')?.[1] ?? 0);
      const last = lines.at(-1) ?? '';
      const reap = pid ? z.exitOf(pid) : Promise.resolve();
      void reap.then(() => {
        if (last === 'done') return resolve(true);
        const [, what, , ...msg] = last.split('\t');
        reject(new RuntimeError(`${op} ${path}: ${last.startsWith('error\t') ? `${what}: ${msg.join(' ')}` : 'the zygote\'s child ended without saying why'}`));
      });
    });
    sock.write(new Plan().add(op, path).encode());
  });
}
