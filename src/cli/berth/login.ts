// berth login / logout: registry credentials in docker's config.json (or its credential helper),
// with docker's wording, so that `docker login` and `berth login` share one set of logins.
import { DockerConfig, INDEX_SERVER, dockerConfigDir, eraseCredentials, getCredentials, helperGet, registryKey, storeCredentials } from '../../image/auth/index.ts';
import type { Credentials } from '../../image/registry/client.ts';
import { UsageError, bool, str } from '../args.ts';
import { DaemonError } from './client.ts';
import type { Command, CommandContext } from './command.ts';

/** The registry domain a client talks to for config key `key`. */
const domainOf = (key: string): string => (key === INDEX_SERVER ? 'docker.io' : key);

/**
 * Checks `creds` against the registry of `key` through the daemon (`POST /auth`, as docker's
 * client does: the daemon reaches registries); the identity token it issued, if any.
 */
async function verify(ctx: CommandContext, key: string, creds: Credentials): Promise<{ identityToken?: string }> {
  const client = await ctx.client();
  try {
    const r = await client.post<{ Status?: string; IdentityToken?: string }>('/auth', undefined, {
      username: creds.username, password: creds.password, serveraddress: key, ...(creds.identityToken && { identitytoken: creds.identityToken }),
    });
    return r.IdentityToken ? { identityToken: r.IdentityToken } : {};
  } catch (e) {
    // the daemon's reason, named by the registry as berth's errors are
    if (e instanceof DaemonError) throw new Error(`login ${domainOf(key)}: ${e.message.replace(new RegExp(`^login ${domainOf(key).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `), '')}`);
    throw e;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads one line from the terminal, echoing it unless `hidden` (a password). */
function promptLine(ctx: CommandContext, question: string, hidden: boolean): Promise<string> {
  const stdin = process.stdin;
  // raw (no echo by the terminal) before the prompt shows: what is typed once it shows is echoed
  // by us alone, or not at all for a password
  stdin.setRawMode(true);
  ctx.stdout.write(question);
  return new Promise((resolve, reject) => {
    let line = '';
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      ctx.stdout.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (s: string): void => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004') return done(new Error('login: interrupted'));
        if (ch === '\u007f' || ch === '\b') {
          if (line.length > 0 && !hidden) ctx.stdout.write('\b \b');
          line = line.slice(0, -1);
        } else {
          line += ch;
          if (!hidden) ctx.stdout.write(ch);
        }
      }
    };
    stdin.on('data', onData);
  });
}

const UNENCRYPTED = (file: string): string => `WARNING! Your password will be stored unencrypted in ${file}.
Configure a credential helper to remove this warning. See
https://docs.docker.com/engine/reference/commandline/login/#credentials-store

`;

export const loginCommand: Command = {
  name: 'login',
  usage: '[OPTIONS] [SERVER]',
  summary: 'Log in to a registry (default docker.io)',
  flags: [
    { names: ['username', 'u'], kind: 'string' },
    { names: ['password', 'p'], kind: 'string' },
    { names: ['password-stdin'], kind: 'bool' },
  ],
  flagHelp: [
    '  -p, --password string   Password',
    '      --password-stdin    Take the password from stdin',
    '  -u, --username string   Username',
  ].join('\n'),
  async run(p, ctx) {
    if (p.rest.length > 1) throw new UsageError('login: at most one SERVER');
    let username = str(p, 'username')?.trim();
    let password = str(p, 'password');
    const fromStdin = bool(p, 'password-stdin');
    if (password !== undefined) {
      ctx.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
      if (fromStdin) throw new UsageError('--password and --password-stdin are mutually exclusive');
    }
    if (fromStdin) {
      if (!username) throw new UsageError('Must provide --username with --password-stdin');
      // as docker: everything on stdin, less one trailing newline (and a CR before it)
      password = (await readAll(process.stdin)).replace(/\n$/, '').replace(/\r$/, '');
    }
    const server = p.rest[0] ?? 'docker.io';
    const key = registryKey(server);
    const env = process.env;
    const cfg = await DockerConfig.load(dockerConfigDir(env));

    let creds: Credentials | undefined;
    let identityToken: string | undefined;
    if (!username && password === undefined) {
      // As docker: no credentials given, try the stored ones first.
      const stored = await getCredentials(cfg, key, env);
      if (stored) {
        ctx.stdout.write('Authenticating with existing credentials...\n');
        const c: Credentials = { username: stored.username, password: stored.password, ...(stored.identityToken && { identityToken: stored.identityToken }) };
        try {
          identityToken = (await verify(ctx, key, c)).identityToken ?? c.identityToken;
          creds = c;
        } catch (e) {
          ctx.stderr.write(`Login did not succeed, error: ${(e as Error).message}\n`);
        }
      }
    }
    if (!creds) {
      if ((!username || password === undefined) && !process.stdin.isTTY) {
        throw new Error(`login ${domainOf(key)}: cannot perform an interactive login from a non TTY device (use -u and --password-stdin)`);
      }
      username ||= (await promptLine(ctx, 'Username: ', false)).trim();
      if (!username) throw new Error(`login ${domainOf(key)}: Non-null Username Required`);
      password ??= await promptLine(ctx, 'Password: ', true);
      if (password === '') throw new Error(`login ${domainOf(key)}: Password Required`);
      creds = { username, password };
      identityToken = (await verify(ctx, key, creds)).identityToken;
    }

    const { helper } = await storeCredentials(cfg, key, { ...creds, ...(identityToken && { identityToken }) }, env);
    if (helper === undefined && !identityToken && creds.password !== '') ctx.stderr.write(UNENCRYPTED(cfg.file));
    ctx.stdout.write('Login Succeeded\n');
    return 0;
  },
};

export const logoutCommand: Command = {
  name: 'logout',
  usage: '[SERVER]',
  summary: 'Log out from a registry (default docker.io)',
  flags: [],
  async run(p, ctx) {
    if (p.rest.length > 1) throw new UsageError('logout: at most one SERVER');
    const key = p.rest[0] === undefined ? INDEX_SERVER : registryKey(p.rest[0]);
    const env = process.env;
    const cfg = await DockerConfig.load(dockerConfigDir(env));
    // Logged in: an auths entry (docker's test), or credentials in the helper (a login by a tool
    // that wrote no entry).
    let loggedIn = cfg.findAuth(key) !== undefined;
    const helper = cfg.helperFor(key);
    if (!loggedIn && helper !== undefined) {
      loggedIn = await helperGet(helper, key, env).then((c) => c !== undefined, () => true);
    }
    if (!loggedIn) {
      ctx.stdout.write(`Not logged in to ${key}\n`);
      return 0;
    }
    ctx.stdout.write(`Removing login credentials for ${key}\n`);
    try {
      await eraseCredentials(cfg, key, env);
    } catch (e) {
      ctx.stderr.write(`WARNING: could not erase credentials: ${(e as Error).message}\n`);
    }
    return 0;
  },
};
