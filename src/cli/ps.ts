import { execFileSync } from 'node:child_process';

/** runc ps: run ps(1) with the given options (default -ef) and keep the container's lines. */
export function psTable(pids: readonly number[], psArgs: readonly string[]): string {
  const out = execFileSync('ps', psArgs.length ? [...psArgs] : ['-ef'], { encoding: 'utf8' });
  const lines = out.split('\n');
  const header = lines[0] ?? '';
  const col = header.trim().split(/\s+/).indexOf('PID');
  if (col < 0) throw new Error(`couldn't find PID field in ps output`);
  const want = new Set(pids);
  const kept = lines.slice(1).filter((l) => l.trim() && want.has(Number(l.trim().split(/\s+/)[col])));
  return [header, ...kept].join('\n') + '\n';
}
