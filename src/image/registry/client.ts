/**
 * A client of one registry (OCI distribution spec / Docker Registry HTTP API v2) over Node's
 * built-in fetch:
 *
 * - base URL from the reference's domain: https, or plain http for loopback domains
 *   (`isInsecureByDefault`) and those listed in `insecure`; docker.io is served by
 *   registry-1.docker.io;
 * - auth: anonymous first; on a 401 the `WWW-Authenticate` challenge decides: Bearer (a token
 *   fetched from the realm with service and scope, Basic credentials sent to the realm if given;
 *   tokens cached per scope until they expire, one fetch per scope even for concurrent requests;
 *   with an identity token, an OAuth2 refresh_token grant POSTed to the realm, as docker does) or
 *   Basic (the credentials passed in, or resolved once by `credentialsFor` on the first challenge);
 * - redirects (blob storage) followed by hand, sending Authorization only to the same origin;
 * - retries with exponential backoff on 5xx, 429 and network errors (bounded);
 * - manifests verified against their digest; blobs streamed into the content store with sha256
 *   verified while streaming, resumed with `Range` from the ingest's offset where the registry
 *   answers 206.
 */
import type { ImageReference } from '../reference.ts';
import { isInsecureByDefault } from '../reference.ts';
import type { ContentStore, ContentWriter } from '../store/content.ts';
import { digestOf, isDigest, parseDigest, shortDigest, type Digest } from '../store/digest.ts';
import { DigestMismatchError, LockedError, SizeMismatchError, StoreError } from '../store/errors.ts';
import { detectMediaType } from './media.ts';
import { DEFAULT_STALL_TIMEOUT_MS, StallError, StallWatch } from './stall.ts';

export interface Credentials {
  username: string;
  password: string;
  /** an OAuth2 refresh token (docker's `identitytoken`): Bearer tokens come from a refresh_token grant */
  identityToken?: string;
}

export interface RegistryClientOptions {
  /** domains (with port, as in references) reached over plain http besides the loopback ones */
  insecure?: readonly string[];
  /** Basic credentials for this registry (also sent to a Bearer token realm) */
  credentials?: Credentials;
  /**
   * Resolves credentials for a domain (docker's config: src/image/auth credentialsFor), asked at
   * most once per client and only when the registry challenges; `credentials` wins over it.
   */
  credentialsFor?: (domain: string) => Promise<Credentials | undefined>;
  /** extra attempts after a 5xx/429/network error (default 4) */
  retries?: number;
  /** first backoff delay; doubled each attempt, capped at 5 s (default 200 ms) */
  backoffMs?: number;
  /** largest manifest accepted (default 4 MiB) */
  maxManifestBytes?: number;
  /** overrides the base URL (tests, mirrors): `http://127.0.0.1:5000` */
  baseUrl?: string;
  userAgent?: string;
  /**
   * An attempt that gets no byte from the registry (no response headers, or a body that stops)
   * for this long fails and is retried as a network error (default 30 s; 0: never).
   */
  stallTimeoutMs?: number;
  /** told why each failed attempt is retried (a stall, a network error, a 5xx), before the backoff */
  onRetry?: (message: string) => void;
  /** stops every request (a pull interrupted by SIGINT): they reject with the signal's reason */
  signal?: AbortSignal;
}

/** A registry request that failed: HTTP status (if any), URL, and the registry's error text. */
export class RegistryError extends Error {
  constructor(message: string, readonly status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RegistryError';
  }
}

/** A body for `request`: bytes, or a stream (a blob read from the content store). */
export type RequestBody = Uint8Array | ReadableStream<Uint8Array>;

/** Method, headers and body of a `request`; `body` is called once per attempt (auth answers, retries and redirects send it again). */
export interface RegistryRequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: () => RequestBody;
}

export interface RegistryRequestOptions {
  /** push access: the token scope is `repository:<repo>:pull,push` */
  push?: boolean;
  /** retry transient failures (default true); off where a failed attempt may have half happened (a PATCH of a chunk) */
  retry?: boolean;
  /** what is fetched, for messages: `blob repo@sha256:…` */
  what?: string;
}

/**
 * Sees each chunk of a blob as it is stored, with its offset in the blob (a pull unpacks a layer
 * while it downloads). Offsets are contiguous unless a transfer restarts from byte 0 or resumes an
 * ingest an earlier process left: the tap must check. Its promise is awaited (backpressure).
 */
export type BlobTap = (chunk: Uint8Array, offset: number) => Promise<void> | void;

export interface FetchedManifest {
  mediaType: string;
  digest: Digest;
  bytes: Buffer;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

const MAX_REDIRECTS = 5;
/** the client_id of OAuth2 token requests (docker sends "docker"; registries only log it) */
const TOKEN_CLIENT_ID = 'berth';

/** The domain → the registry's host for API calls (docker.io's API is registry-1.docker.io). */
export function registryHost(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' ? 'registry-1.docker.io' : domain;
}

/** Parses a `WWW-Authenticate` header into challenges: `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const TOKEN = /[A-Za-z0-9!#$%&'*+.^_`|~-]/;
  let i = 0;
  const n = header.length;
  while (i < n) {
    while (i < n && /[\s,]/.test(header[i]!)) i++;
    let tok = '';
    while (i < n && TOKEN.test(header[i]!)) tok += header[i++];
    if (tok === '') {
      i++; // stray character: skip it
      continue;
    }
    let j = i;
    while (j < n && (header[j] === ' ' || header[j] === '\t')) j++;
    const current = out[out.length - 1];
    if (header[j] === '=' && header[j + 1] !== '=' && current) {
      // key=value (or key="quoted value") of the current challenge
      i = j + 1;
      while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i++];
        }
        i++;
      } else {
        while (i < n && header[i] !== ',' && !/\s/.test(header[i]!)) value += header[i++];
      }
      current.params[tok.toLowerCase()] = value;
    } else {
      out.push({ scheme: tok.toLowerCase(), params: {} });
    }
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** A short text of a registry error body: `{"errors":[{"code":…,"message":…}]}` or the raw text. */
async function errorText(res: Response): Promise<string> {
  let text = '';
  try {
    text = (await res.text()).slice(0, 2000);
  } catch {
    return '';
  }
  try {
    const j = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    if (Array.isArray(j.errors) && j.errors.length > 0) {
      return j.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
    }
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 200);
}

export class RegistryClient {
  readonly domain: string;
  readonly baseUrl: string;
  readonly #opts: RegistryClientOptions;
  readonly #tokens = new Map<string, CachedToken>();
  /** token fetches in flight per scope: concurrent requests of one scope share one fetch */
  readonly #fetching = new Map<string, Promise<string>>();
  #credentialsPromise: Promise<Credentials | undefined> | undefined;
  /** the latest refresh token: the identity token, or one the token endpoint issued */
  #refreshToken: string | undefined;
  /** the last challenge seen: later requests of another scope fetch their token up front */
  #challenge: Challenge | undefined;

  constructor(domain: string, opts: RegistryClientOptions = {}) {
    this.domain = domain;
    this.#opts = opts;
    const insecure = isInsecureByDefault(domain) || (opts.insecure ?? []).includes(domain);
    this.baseUrl = (opts.baseUrl ?? `${insecure ? 'http' : 'https'}://${registryHost(domain)}`).replace(/\/+$/, '');
  }

  /** A client for the registry of `ref`. */
  static forReference(ref: ImageReference, opts: RegistryClientOptions = {}): RegistryClient {
    return new RegistryClient(ref.domain, opts);
  }

  /**
   * GET /v2/<repo>/manifests/<tagOrDigest> with `accept`. By digest, the body must hash to it;
   * by tag, to the Docker-Content-Digest header when there is one. Errors say "digest mismatch".
   */
  async getManifest(repo: string, tagOrDigest: string, accept: readonly string[]): Promise<FetchedManifest> {
    const byDigest = tagOrDigest.includes(':');
    const wanted = byDigest ? parseDigest(tagOrDigest, `manifest ${repo}@${tagOrDigest}`) : undefined;
    const url = `${this.baseUrl}/v2/${repo}/manifests/${tagOrDigest}`;
    const res = await this.#request(repo, url, { headers: { accept: accept.join(', ') } }, { what: `manifest ${repo}${byDigest ? '@' : ':'}${tagOrDigest}` });
    if (!res.ok) throw await this.#httpError(res, `manifest ${repo}:${tagOrDigest}`, url);
    const max = this.#opts.maxManifestBytes ?? 4 << 20;
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > max) {
      await res.body?.cancel();
      throw new RegistryError(`manifest ${repo}:${tagOrDigest}: ${declared} bytes, more than the ${max} accepted`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const c of res.body ?? []) {
      total += (c as Uint8Array).byteLength;
      if (total > max) throw new RegistryError(`manifest ${repo}:${tagOrDigest}: more than the ${max} bytes accepted`);
      chunks.push(Buffer.from(c as Uint8Array));
    }
    const bytes = Buffer.concat(chunks);
    const actual = digestOf(bytes);
    const header = res.headers.get('docker-content-digest') ?? undefined;
    if (wanted !== undefined && actual !== wanted) {
      throw new RegistryError(`manifest ${repo}@${wanted}: digest mismatch: the registry sent content with digest ${actual}`);
    }
    if (wanted === undefined && header !== undefined && header !== '') {
      if (!isDigest(header)) {
        if (!header.startsWith('sha256:')) {
          // another algorithm than berth verifies: trust the body's sha256 only
        } else throw new RegistryError(`manifest ${repo}:${tagOrDigest}: invalid Docker-Content-Digest ${JSON.stringify(header)}`);
      } else if (header !== actual) {
        throw new RegistryError(`manifest ${repo}:${tagOrDigest}: digest mismatch: Docker-Content-Digest says ${header}, the content is ${actual}`);
      }
    }
    return { mediaType: detectMediaType(bytes, res.headers.get('content-type') ?? undefined), digest: actual, bytes };
  }

  /**
   * Streams blob `digest` of `size` bytes into `store` (ingest ref `registry-blob-<digest>`),
   * verifying size and sha256 while streaming; resumes an interrupted ingest with a Range request
   * where the registry honours it. Already stored → nothing fetched. A mismatch throws
   * DigestMismatchError / SizeMismatchError and stores nothing.
   */
  async fetchBlob(repo: string, digest: Digest, store: ContentStore, size: number, tap?: BlobTap): Promise<Digest> {
    digest = parseDigest(digest, `blob of ${repo}`);
    if (await store.has(digest)) {
      const info = await store.info(digest);
      if (info.size !== size) throw new SizeMismatchError(`blob ${digest}`, size, info.size, ' (stored)');
      return digest;
    }
    const ref = `registry-blob-${digest}`;
    const url = `${this.baseUrl}/v2/${repo}/blobs/${digest}`;
    const where = `blob ${repo}@${shortDigest(digest)}`;
    const retries = this.#opts.retries ?? 4;
    for (let attempt = 0; ; attempt++) {
      let w = await openWriter(store, ref, digest, size, this.#opts.signal);
      if (w === undefined) return digest; // another process stored it meanwhile
      let committing = false;
      try {
        if (w.offset < size) {
          const offset = w.offset;
          const headers: Record<string, string> = {};
          if (offset > 0) headers.range = `bytes=${offset}-`;
          const res = await this.#request(repo, url, { headers }, { what: `blob ${repo}@${digest}` });
          if (res.status === 416 && offset > 0) {
            await res.body?.cancel();
            await w.abort();
            w = await store.writer(ref, { expectedSize: size, expectedDigest: digest });
            throw new TransientError(`${where}: range not satisfiable; starting over`);
          }
          if (!res.ok) throw await this.#httpError(res, where, url);
          if (offset > 0) {
            const start = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
            if (res.status !== 206 || !start || Number(start[1]) !== offset) {
              // The registry sent the whole blob (or another range): restart from byte 0.
              await w.abort();
              w = await store.writer(ref, { expectedSize: size, expectedDigest: digest });
            }
          }
          try {
            for await (const chunk of res.body ?? []) {
              const at = w.offset;
              await w.write(chunk as Uint8Array);
              if (tap) await tap(chunk as Uint8Array, at);
            }
          } catch (e) {
            if (e instanceof StoreError) throw e; // more bytes than expected: the ingest is gone
            if (this.#opts.signal?.aborted) throw this.#opts.signal.reason;
            if (e instanceof StallError) throw new TransientError(`${e.message} (at byte ${w.offset} of ${size})`, { cause: e });
            throw new TransientError(`${where}: transfer interrupted at byte ${w.offset}: ${(e as Error).message}`, { cause: e });
          }
          if (w.offset < size) throw new TransientError(`${where}: transfer ended at byte ${w.offset} of ${size}`);
        }
        committing = true;
        return await w.commit(size, digest);
      } catch (e) {
        if (!committing && !(e instanceof StoreError)) await w.close().catch(() => undefined);
        // interrupted (SIGINT): the partial data stays for the next pull to resume
        if (this.#opts.signal?.aborted) throw e;
        if (e instanceof DigestMismatchError) {
          throw new DigestMismatchError(`${where} from ${url}`, e.expected, e.actual);
        }
        if (e instanceof TransientError && attempt < retries && !this.#opts.signal?.aborted) {
          this.#opts.onRetry?.(`${e.message}; retrying (attempt ${attempt + 2} of ${retries + 1})`);
          await this.#sleep(this.#backoff(attempt));
          continue;
        }
        // Failed for good: the partial data goes too. Nothing collects an abandoned ingest, and a
        // server that cuts every transfer must not be able to fill the disk with them.
        if (!committing) await store.abortIngest(ref).catch(() => undefined);
        if (e instanceof TransientError) throw new RegistryError(`${e.message} (gave up after ${attempt + 1} attempts)`, undefined, { cause: e });
        throw e;
      }
    }
  }

  /**
   * One request with the client's auth, retry and redirect handling (push's uploads go through
   * it); Authorization is sent to the registry's own origin only. Returns the response, any status.
   */
  request(repo: string, url: string, init: RegistryRequestInit = {}, opts: RegistryRequestOptions = {}): Promise<Response> {
    return this.#request(repo, url, init, opts);
  }

  /** The RegistryError for a failed `request` response: `what: url: HTTP status: the registry's error text`. */
  responseError(res: Response, what: string, url: string): Promise<RegistryError> {
    return this.#httpError(res, what, url);
  }

  /** The backoff wait; an abort of the client's signal ends it with the signal's reason. */
  #sleep(ms: number): Promise<void> {
    const signal = this.#opts.signal;
    if (!signal) return sleep(ms);
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        signal.removeEventListener('abort', abort);
        resolve();
      }, ms);
      const abort = (): void => {
        clearTimeout(t);
        reject(signal.reason);
      };
      signal.addEventListener('abort', abort, { once: true });
    });
  }

  #backoff(attempt: number): number {
    const base = this.#opts.backoffMs ?? 200;
    return Math.min(5000, base * 2 ** attempt) * (0.75 + Math.random() * 0.5);
  }

  async #httpError(res: Response, what: string, url: string): Promise<RegistryError> {
    const text = await errorText(res);
    const hint = res.status === 401 ? ' (unauthorized: wrong or missing credentials)'
      : res.status === 404 ? ' (not found)' : '';
    return new RegistryError(`${what}: ${url}: HTTP ${res.status}${hint}${text ? `: ${text}` : ''}`, res.status);
  }

  /**
   * One logical request: auth (cached token / Basic / a challenge answered once), redirects by
   * hand, retries on transient failures. Returns the final response (any status).
   */
  async #request(repo: string, url: string, init: RegistryRequestInit, opts: RegistryRequestOptions = {}): Promise<Response> {
    const retries = opts.retry === false ? 0 : this.#opts.retries ?? 4;
    const scope = `repository:${repo}:${opts.push ? 'pull,push' : 'pull'}`;
    let answeredChallenge = false;
    const what = opts.what ?? `${init.method ?? 'GET'} ${url}`;
    for (let attempt = 0; ; attempt++) {
      this.#opts.signal?.throwIfAborted();
      // Only a request without a body is watched: an upload's answer waits for the whole body.
      const stallMs = this.#opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
      const watch = stallMs > 0 && init.body === undefined
        ? new StallWatch(stallMs, () => `${what} from registry ${this.domain}`, this.#opts.signal)
        : undefined;
      try {
        const auth = await this.#authorization(scope);
        const res = await this.#followRedirects(url, init, auth, watch ?? this.#opts.signal);
        if (res.status === 401 && !answeredChallenge) {
          const header = res.headers.get('www-authenticate') ?? '';
          await res.body?.cancel();
          const challenges = parseChallenges(header);
          const ch = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
          if (!ch) throw new RegistryError(`${url}: HTTP 401 without a usable WWW-Authenticate challenge (${JSON.stringify(header)})`, 401);
          if (ch.scheme === 'basic' && !(await this.#credentials())) {
            throw new RegistryError(`${url}: HTTP 401: unauthorized: the registry wants Basic credentials and none were given (log in to ${this.domain} first)`, 401);
          }
          this.#challenge = ch;
          if (ch.scheme === 'bearer') {
            const chScope = ch.params.scope;
            this.#tokens.delete(scope);
            await this.#fetchToken(ch, chScope && chScope.startsWith(`repository:${repo}:`) ? chScope : scope, scope);
          }
          answeredChallenge = true;
          attempt--;
          continue;
        }
        if (isTransientStatus(res.status) && attempt < retries) {
          await res.body?.cancel();
          watch?.close();
          this.#opts.onRetry?.(`${what} from registry ${this.domain}: HTTP ${res.status}; retrying (attempt ${attempt + 2} of ${retries + 1})`);
          await this.#sleep(this.#backoff(attempt));
          continue;
        }
        if (!watch || res.body === null) {
          watch?.close();
          return res;
        }
        // the body read under the same watch: a transfer that stops is a stall too
        return new Response(watch.guard(res.body), { status: res.status, statusText: res.statusText, headers: res.headers });
      } catch (err) {
        watch?.close();
        const e = watch ? watch.explain(err) : err;
        if (e instanceof RegistryError) throw e;
        if (this.#opts.signal?.aborted) throw this.#opts.signal.reason;
        const why = e instanceof StallError ? e.message : `${url}: ${(e as Error).message}${(e as Error).cause ? ` (${String((e as { cause?: unknown }).cause)})` : ''}`;
        if (attempt >= retries) {
          throw new RegistryError(`${why} (gave up after ${attempt + 1} attempts)`, undefined, { cause: e });
        }
        this.#opts.onRetry?.(`${why}; retrying (attempt ${attempt + 2} of ${retries + 1})`);
        await this.#sleep(this.#backoff(attempt));
      }
    }
  }

  /** The Authorization header for `scope`, if one is known. */
  async #authorization(scope: string): Promise<string | undefined> {
    const ch = this.#challenge;
    if (ch?.scheme === 'basic') {
      const creds = await this.#credentials();
      return creds ? basic(creds) : undefined;
    }
    if (ch?.scheme === 'bearer') {
      const cached = this.#tokens.get(scope);
      if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
      let pending = this.#fetching.get(scope);
      if (!pending) {
        pending = this.#fetchToken(ch, scope, scope).finally(() => this.#fetching.delete(scope));
        this.#fetching.set(scope, pending);
      }
      return `Bearer ${await pending}`;
    }
    return undefined;
  }

  /** `credentials`, else what `credentialsFor(domain)` resolves (asked once). */
  #credentials(): Promise<Credentials | undefined> {
    if (this.#opts.credentials) return Promise.resolve(this.#opts.credentials);
    const resolve = this.#opts.credentialsFor;
    if (!resolve) return Promise.resolve(undefined);
    // A RegistryError: #request retries anything else as a network error.
    return (this.#credentialsPromise ??= resolve(this.domain).catch((e: unknown) => {
      throw new RegistryError(`credentials for ${this.domain}: ${(e as Error).message}`, undefined, { cause: e });
    }));
  }

  /**
   * Checks the credentials as docker's login does: GET /v2/; when challenged, Basic → the
   * credentials, Bearer → a token for no scope (account=username, offline_token=true) and /v2/
   * again with it. Returns the refresh token the token endpoint issued, if any: docker stores it
   * as the identity token instead of the password. Wrong credentials: RegistryError 401.
   */
  async login(): Promise<{ identityToken?: string }> {
    const url = `${this.baseUrl}/v2/`;
    const where = `login ${this.domain}`;
    const get = async (auth: string | undefined): Promise<Response> => {
      try {
        return await this.#followRedirects(url, {}, auth);
      } catch (e) {
        if (e instanceof RegistryError) throw e;
        throw new RegistryError(`${where}: ${url}: ${(e as Error).message}${(e as Error).cause ? ` (${String((e as { cause?: unknown }).cause)})` : ''}`, undefined, { cause: e });
      }
    };
    let res = await get(undefined);
    if (res.status === 401) {
      const header = res.headers.get('www-authenticate') ?? '';
      await res.body?.cancel();
      const challenges = parseChallenges(header);
      const ch = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
      if (!ch) throw new RegistryError(`${where}: ${url}: HTTP 401 without a usable WWW-Authenticate challenge (${JSON.stringify(header)})`, 401);
      const creds = await this.#credentials();
      if (!creds) throw new RegistryError(`${where}: unauthorized: the registry wants credentials and none were given`, 401);
      let auth: string;
      if (ch.scheme === 'basic') auth = basic(creds);
      else {
        try {
          auth = `Bearer ${await this.#fetchToken(ch, undefined, undefined, true)}`;
        } catch (e) {
          if (e instanceof RegistryError && e.status === 401) throw new RegistryError(`${where}: unauthorized: ${e.message}`, 401, { cause: e });
          throw e;
        }
      }
      res = await get(auth);
      if (res.status === 401) {
        throw new RegistryError(`${where}: unauthorized: wrong username or password (${url}: HTTP 401: ${await errorText(res)})`, 401);
      }
      this.#challenge = ch;
    }
    if (!res.ok) throw await this.#httpError(res, where, url);
    await res.body?.cancel();
    const issued = this.#refreshToken !== undefined && this.#refreshToken !== (await this.#credentials())?.identityToken;
    return issued ? { identityToken: this.#refreshToken! } : {};
  }

  /**
   * A token for `scope` (none: login) from the realm, as docker's token handler gets it: with a
   * refresh token (identity token), POST grant_type=refresh_token; else GET realm?service=…&scope=…
   * with Basic credentials if any (`offline_token=true` at login asks for a refresh token).
   * Caches the token under `cacheKey` and `scope`; keeps a refresh token the realm sends.
   */
  async #fetchToken(ch: Challenge, scope: string | undefined, cacheKey: string | undefined, offline = false): Promise<string> {
    const realm = ch.params.realm;
    if (!realm) throw new RegistryError(`Bearer challenge without a realm from ${this.baseUrl}`, 401);
    let u: URL;
    try {
      u = new URL(realm);
    } catch {
      throw new RegistryError(`Bearer challenge with an invalid realm ${JSON.stringify(realm)}`, 401);
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new RegistryError(`Bearer realm ${realm}: not http(s)`, 401);
    const creds = await this.#credentials();
    const refresh = this.#refreshToken ?? creds?.identityToken;
    const headers: Record<string, string> = { 'user-agent': this.#opts.userAgent ?? 'berth' };
    let init: RequestInit;
    if (refresh) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh, client_id: TOKEN_CLIENT_ID });
      if (ch.params.service) form.set('service', ch.params.service);
      if (scope) form.set('scope', scope);
      headers['content-type'] = 'application/x-www-form-urlencoded';
      init = { method: 'POST', headers, body: form.toString(), redirect: 'follow' };
    } else {
      if (ch.params.service) u.searchParams.set('service', ch.params.service);
      if (scope) u.searchParams.set('scope', scope);
      if (creds) {
        headers.authorization = basic(creds);
        if (creds.username) u.searchParams.set('account', creds.username);
      }
      if (offline) {
        u.searchParams.set('offline_token', 'true');
        u.searchParams.set('client_id', TOKEN_CLIENT_ID);
      }
      init = { headers, redirect: 'follow' };
    }
    const retries = this.#opts.retries ?? 4;
    let res: Response | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        // a token realm that stalls fails the attempt as a registry does (small answers: one timeout)
        const stallMs = this.#opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
        const signals = [...(this.#opts.signal ? [this.#opts.signal] : []), ...(stallMs > 0 ? [AbortSignal.timeout(stallMs)] : [])];
        res = await fetch(u, { ...init, ...(signals.length > 0 && { signal: AbortSignal.any(signals) }) });
        if (this.#opts.signal?.aborted) throw this.#opts.signal.reason;
      } catch (e) {
        if (this.#opts.signal?.aborted) throw this.#opts.signal.reason;
        if (attempt >= retries) throw new RegistryError(`token from ${u.origin}${u.pathname}: ${(e as Error).message}`, undefined, { cause: e });
        await sleep(this.#backoff(attempt));
        continue;
      }
      if (isTransientStatus(res.status) && attempt < retries) {
        await res.body?.cancel();
        await sleep(this.#backoff(attempt));
        continue;
      }
      break;
    }
    if (!res.ok) {
      throw new RegistryError(`token from ${u.origin}${u.pathname} for ${scope ?? 'login'}: HTTP ${res.status}: ${await errorText(res)}`, res.status);
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown; refresh_token?: unknown };
    try {
      body = (await res.json()) as typeof body;
    } catch (e) {
      throw new RegistryError(`token from ${u.origin}${u.pathname}: not JSON: ${(e as Error).message}`);
    }
    const token = typeof body.token === 'string' && body.token !== '' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') throw new RegistryError(`token from ${u.origin}${u.pathname}: no token in the answer`);
    const ttl = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    if (typeof body.refresh_token === 'string' && body.refresh_token !== '') this.#refreshToken = body.refresh_token;
    const entry = { token, expiresAt: Date.now() + Math.max(1, ttl - 10) * 1000 };
    if (cacheKey !== undefined) this.#tokens.set(cacheKey, entry);
    if (scope !== undefined) this.#tokens.set(scope, entry);
    return token;
  }

  /**
   * fetch with redirects followed by hand; Authorization only to the registry's origin (an
   * upload's Location may name another host). A 303 turns the request into a GET without body.
   */
  async #followRedirects(url: string, init: RegistryRequestInit, auth: string | undefined, watch?: StallWatch | AbortSignal): Promise<Response> {
    const signal = watch instanceof StallWatch ? watch.signal : watch;
    const stall = watch instanceof StallWatch ? watch : undefined;
    const origin = new URL(this.baseUrl).origin;
    let current = url;
    let method = init.method ?? 'GET';
    for (let hop = 0; ; hop++) {
      const h: Record<string, string> = { 'user-agent': this.#opts.userAgent ?? 'berth', ...init.headers };
      if (method !== (init.method ?? 'GET')) for (const k of Object.keys(h)) if (/^content-/i.test(k)) delete h[k];
      if (auth !== undefined && new URL(current).origin === origin) h.authorization = auth;
      const body = method === 'GET' || method === 'HEAD' ? undefined : init.body?.();
      // duplex: a stream body is sent while the answer may already be coming (undici requires it)
      stall?.arm(); // until the headers come
      const res = await fetch(current, { method, headers: h, redirect: 'manual', ...(signal && { signal }), ...(body !== undefined && { body, duplex: 'half' }) } as RequestInit);
      stall?.disarm();
      if (![301, 302, 303, 307, 308].includes(res.status)) return res;
      const location = res.headers.get('location');
      await res.body?.cancel();
      if (!location) throw new RegistryError(`${current}: HTTP ${res.status} redirect without Location`, res.status);
      if (hop >= MAX_REDIRECTS) throw new RegistryError(`${url}: more than ${MAX_REDIRECTS} redirects`, res.status);
      const next = new URL(location, current);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new RegistryError(`${current}: redirect to ${next.protocol} refused`);
      current = next.toString();
      if (res.status === 303) method = 'GET';
    }
  }
}

/**
 * The store's writer for `ref`; while another process holds the ref (a concurrent pull of the
 * same blob), waits for it to finish: undefined once the blob is stored.
 */
async function openWriter(store: ContentStore, ref: string, digest: Digest, size: number, signal?: AbortSignal): Promise<ContentWriter | undefined> {
  for (let waited = 0; ; waited += 100) {
    signal?.throwIfAborted();
    try {
      return await store.writer(ref, { expectedSize: size, expectedDigest: digest });
    } catch (e) {
      if (!(e instanceof LockedError) || waited > 30 * 60_000) throw e;
    }
    if (await store.has(digest)) return undefined;
    await sleep(100);
  }
}

/** A failure worth another attempt (interrupted transfer); internal to fetchBlob. */
class TransientError extends Error {}

function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}
