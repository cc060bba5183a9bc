// docker's PromptForConfirmation: the question on stdout, one line from stdin, only `y` agrees.
import type { CommandContext } from './command.ts';

/** One line from stdin; '' at end of input. */
export async function readLine(): Promise<string> {
  let line = '';
  for await (const chunk of process.stdin) {
    line += String(chunk);
    if (line.includes('\n')) break;
  }
  process.stdin.pause();
  return line.split('\n')[0]!.replace(/\r$/, '');
}

/** `MESSAGE [y/N] ` and the answer: true for `y` or `Y` only, as docker 20.10 reads it. */
export async function confirm(ctx: CommandContext, message: string): Promise<boolean> {
  ctx.stdout.write(`${message} [y/N] `);
  return (await readLine()).toLowerCase() === 'y';
}
