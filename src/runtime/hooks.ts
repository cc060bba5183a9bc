/** Hooks run by berth-oci itself (prestart, createRuntime, poststart, poststop): state JSON on stdin. */
import { spawn } from 'node:child_process';
import type { Hook } from './spec/types.ts';

export async function runHook(h: Hook, stateJson: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const args = h.args && h.args.length ? h.args : [h.path];
    const child = spawn(h.path, args.slice(1), { argv0: args[0], env: Object.fromEntries((h.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])), stdio: ['pipe', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timer: NodeJS.Timeout | undefined;
    if (h.timeout) {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`hook ${h.path} timed out after ${h.timeout} s`));
      }, h.timeout * 1000);
    }
    child.stdin!.on('error', () => { /* a hook need not read its stdin */ });
    child.stdin!.end(stateJson);
    child.once('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`hook ${h.path}: ${e.message}`));
    });
    child.once('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`hook ${h.path} failed (${signal ?? `exit status ${code}`})${stderr ? `: ${stderr.trim()}` : ''}`));
    });
  });
}

/** Runs hooks in order; stops at the first failure unless `continueOnError` (poststop, poststart). */
export async function runHooks(hooks: readonly Hook[] | undefined, stateJson: string, continueOnError = false): Promise<string[]> {
  const errors: string[] = [];
  for (const h of hooks ?? []) {
    try {
      await runHook(h, stateJson);
    } catch (e) {
      if (!continueOnError) throw e;
      errors.push((e as Error).message);
    }
  }
  return errors;
}
