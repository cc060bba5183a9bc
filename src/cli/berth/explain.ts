// berth explain CONTAINER: how berthd made the container, the seed's 9 steps with real values and
// times (GET /containers/{id}/explain), as text or, with --format json, as the API's JSON.
import { request } from 'node:http';

import { UsageError, str, type Parsed } from '../args.ts';
import type { Explanation } from '../../engine/containers/explain-types.ts';
import { formatExplanation } from '../explain-format.ts';
import type { Command, CommandContext } from './command.ts';

/** the API client of a CLI that has one (ctx.client), as much of it as explain uses */
interface JsonClient {
  json<T>(method: string, path: string): Promise<T>;
}

/** berthd's socket when the CLI has no API client of its own: BERTH_HOST, DOCKER_HOST, the default */
function socketPath(): string {
  for (const v of [process.env.BERTH_HOST, process.env.DOCKER_HOST]) {
    if (v && v.startsWith('unix://')) return v.slice('unix://'.length);
  }
  return '/run/berth/berth.sock';
}

class ExplainError extends Error {}

function getJson<T>(sock: string, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, method: 'GET', path: `/v1.41${path}`, host: 'berth' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; });
      res.on('end', () => {
        let doc: unknown;
        try {
          doc = JSON.parse(body);
        } catch {
          return reject(new ExplainError(`berthd at ${sock}: ${path}: the answer is not JSON: ${body.slice(0, 200)}`));
        }
        if ((res.statusCode ?? 500) >= 400) {
          const m = (doc as { message?: unknown }).message;
          return reject(new ExplainError(`Error response from daemon: ${typeof m === 'string' ? m : body.trim()}`));
        }
        resolve(doc as T);
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => reject(new ExplainError(`Cannot connect to berthd at unix://${sock}: ${e.code ?? e.message}. Is berthd running?`)));
    req.end();
  });
}

async function fetchExplanation(ctx: CommandContext, ref: string): Promise<Explanation> {
  const path = `/containers/${encodeURIComponent(ref)}/explain`;
  const withClient = ctx as CommandContext & { client?: () => Promise<JsonClient> };
  if (typeof withClient.client === 'function') return (await withClient.client()).json<Explanation>('GET', path);
  return getJson<Explanation>(socketPath(), path);
}

export const explainCommand: Command = {
  name: 'explain',
  usage: '[OPTIONS] CONTAINER',
  summary: 'Show how a container was made: the 9 steps of docker run with real values and times',
  flags: [{ names: ['format', 'f'], kind: 'string' }],
  flagHelp: '  -f, --format string   text (default) or json: the API\'s answer (GET /containers/{id}/explain)',
  async run(p: Parsed, ctx: CommandContext): Promise<number> {
    if (p.rest.length !== 1) throw new UsageError('explain: want exactly one CONTAINER');
    const format = str(p, 'format') ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError(`explain: --format ${JSON.stringify(format)}: want text or json`);
    let x: Explanation;
    try {
      x = await fetchExplanation(ctx, p.rest[0]!);
    } catch (e) {
      if (!(e instanceof ExplainError)) throw e;
      ctx.stderr.write(`${e.message}\n`);
      return 1;
    }
    ctx.stdout.write(format === 'json' ? `${JSON.stringify(x, null, 2)}\n` : formatExplanation(x));
    return 0;
  },
};
