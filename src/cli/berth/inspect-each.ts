/**
 * `network inspect` and `volume inspect`: each name asked for in turn, what was found printed as
 * one JSON array (or through --format), then the names that failed, in docker's words; exit 1
 * if any did.
 */
import { renderFormat } from '../format.ts';
import { DaemonError } from './client.ts';
import type { CommandContext } from './command.ts';

export async function inspectEach(
  ctx: CommandContext,
  names: readonly string[],
  format: string,
  get: (name: string) => Promise<unknown>,
  failure: (e: DaemonError, name: string) => string,
): Promise<number> {
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const name of names) {
    try {
      found.push(await get(name));
    } catch (e) {
      if (!(e instanceof DaemonError)) throw e;
      errors.push(failure(e, name));
    }
  }
  if (format === '' || format === 'json') ctx.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
  else ctx.stdout.write(found.length === 0 ? '\n' : renderFormat(format, found));
  if (errors.length > 0) ctx.stderr.write(`${errors.join('\n')}\n`);
  return errors.length > 0 ? 1 : 0;
}
