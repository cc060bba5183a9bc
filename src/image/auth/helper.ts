/**
 * docker's credential helper protocol: a program `docker-credential-NAME` on PATH, run once per
 * action with the action as its only argument:
 *
 *   get    stdin: the server URL          stdout: {"ServerURL","Username","Secret"}
 *   store  stdin: {"ServerURL","Username","Secret"}
 *   erase  stdin: the server URL
 *   list   stdin: nothing                 stdout: {"<server URL>": "<username>", …}
 *
 * A failure is a non-zero exit with the message on stdout; "credentials not found in native
 * keychain" means there is nothing for that server (not an error for get and erase). A Username
 * of `<token>` marks the Secret as an identity token.
 */
import { spawn } from 'node:child_process';

export const HELPER_PREFIX = 'docker-credential-';
/** The helpers' own wording for "no credentials for this server". */
export const NOT_FOUND_MESSAGE = 'credentials not found in native keychain';
/** The username a helper stores an identity token under. */
export const TOKEN_USERNAME = '<token>';

export interface HelperCredentials {
  ServerURL: string;
  Username: string;
  Secret: string;
}

/** A helper that failed: which helper, which action, for which server, and its message. */
export class CredentialHelperError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CredentialHelperError';
  }
}

// A helper is a program name on PATH, never a path: a config file must not run an arbitrary file.
const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

interface HelperRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(helper: string, action: string, input: string, env: NodeJS.ProcessEnv): Promise<HelperRun> {
  const program = `${HELPER_PREFIX}${helper}`;
  const where = `credential helper ${program} ${action}`;
  if (!HELPER_NAME.test(helper)) return Promise.reject(new CredentialHelperError(`${where}: invalid helper name ${JSON.stringify(helper)}`));
  return new Promise((resolve, reject) => {
    const child = spawn(program, [action], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(new CredentialHelperError(
        e.code === 'ENOENT' ? `${where}: ${program} not found on PATH` : `${where}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // EPIPE: a helper that does not read its input
    child.stdin.end(input);
  });
}

/** The helper's message of a failed run (stdout, as the protocol says; stderr as a fallback). */
const failure = (r: HelperRun): string => (r.stdout.trim() || r.stderr.trim() || `exit status ${r.code}`).slice(0, 500);

const isNotFound = (r: HelperRun): boolean => r.stdout.trim() === NOT_FOUND_MESSAGE;

/** `get`: the credentials stored for `serverURL`, or undefined when the helper has none. */
export async function helperGet(helper: string, serverURL: string, env: NodeJS.ProcessEnv = process.env): Promise<HelperCredentials | undefined> {
  const where = `credential helper ${HELPER_PREFIX}${helper} get ${serverURL}`;
  const r = await run(helper, 'get', serverURL, env);
  if (r.code !== 0) {
    if (isNotFound(r)) return undefined;
    throw new CredentialHelperError(`${where}: ${failure(r)}`);
  }
  let j: unknown;
  try {
    j = JSON.parse(r.stdout);
  } catch (e) {
    throw new CredentialHelperError(`${where}: answer is not JSON: ${(e as Error).message}`, { cause: e });
  }
  const o = j as Partial<Record<keyof HelperCredentials, unknown>>;
  if (typeof j !== 'object' || j === null || typeof o.Username !== 'string' || typeof o.Secret !== 'string') {
    throw new CredentialHelperError(`${where}: answer lacks string Username and Secret`);
  }
  return { ServerURL: typeof o.ServerURL === 'string' ? o.ServerURL : serverURL, Username: o.Username, Secret: o.Secret };
}

/** `store`: files `creds` in the helper. */
export async function helperStore(helper: string, creds: HelperCredentials, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const r = await run(helper, 'store', JSON.stringify(creds), env);
  if (r.code !== 0) throw new CredentialHelperError(`credential helper ${HELPER_PREFIX}${helper} store ${creds.ServerURL}: ${failure(r)}`);
}

/** `erase`: removes the credentials of `serverURL`; false when the helper had none. */
export async function helperErase(helper: string, serverURL: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const r = await run(helper, 'erase', serverURL, env);
  if (r.code === 0) return true;
  if (isNotFound(r)) return false;
  throw new CredentialHelperError(`credential helper ${HELPER_PREFIX}${helper} erase ${serverURL}: ${failure(r)}`);
}

/** `list`: server URL → username of everything the helper holds. */
export async function helperList(helper: string, env: NodeJS.ProcessEnv = process.env): Promise<Record<string, string>> {
  const where = `credential helper ${HELPER_PREFIX}${helper} list`;
  const r = await run(helper, 'list', '', env);
  if (r.code !== 0) throw new CredentialHelperError(`${where}: ${failure(r)}`);
  let j: unknown;
  try {
    j = JSON.parse(r.stdout);
  } catch (e) {
    throw new CredentialHelperError(`${where}: answer is not JSON: ${(e as Error).message}`, { cause: e });
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j) || Object.values(j).some((v) => typeof v !== 'string')) {
    throw new CredentialHelperError(`${where}: answer is not an object of strings`);
  }
  return j as Record<string, string>;
}
