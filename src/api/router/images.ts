/**
 * Image routes of the Engine API v1.41: list, inspect, history, tag, remove, prune, create (pull
 * with `fromImage`, import with `fromSrc=-`), push, get (save), load. Decode the request, call
 * the engine's image verbs, encode docker's answer; progress as docker's JSON lines.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';

import type { Engine } from '../../engine/engine.ts';
import { InvalidParameterError, NotFoundError } from '../../engine/errors.ts';
import { type Digest, digestHex, type ImageReference, type LayerProgress, parseReference, type PushProgress } from '../../image/index.ts';
import { errorAnswer } from '../errors.ts';
import { registryAuthHeader } from '../auth.ts';
import { queryBool, queryFilters, sendEmpty, sendJson } from '../http.ts';
import type { RouteContext, Router } from '../router.ts';
import { JsonLines } from '../stream.ts';

/** docker's layer id in progress lines: 12 hex digits of the blob digest */
const layerId = (d: string): string => digestHex(d as Digest).slice(0, 12);

/** Progress bars are redrawn at most this often per layer (docker's are too). */
const PROGRESS_INTERVAL_MS = 100;

function parseRef(s: string): ImageReference {
  try {
    return parseReference(s);
  } catch (e) {
    throw new InvalidParameterError((e as Error).message);
  }
}

/** `fromImage` and `tag` as docker combines them: a tag, or a digest after `@`. */
function pullReference(fromImage: string, tag: string): string {
  if (tag === '') return fromImage;
  return tag.includes(':') ? `${fromImage}@${tag}` : `${fromImage}:${tag}`;
}

/**
 * An AbortSignal that fires when the client of `c` goes away before its answer is complete (it
 * closed the connection: interrupted, killed). dockerd cancels a pull or push nobody waits for
 * any more; so does berthd, which never shares one request's work with another's.
 */
function clientGone(c: RouteContext): AbortSignal {
  const ac = new AbortController();
  c.res.once('close', () => {
    if (!c.res.writableFinished) ac.abort(new Error('the client closed the connection'));
  });
  return ac.signal;
}

/**
 * An error from a streaming route: before anything was sent it becomes the status (a missing
 * image is a 404); afterwards it is docker's in-stream error, which clients print and exit 1 on.
 */
function streamFailure(out: JsonLines, e: unknown, signal?: AbortSignal): void {
  if (signal?.aborted) return; // nobody is listening
  if (!out.started) throw e;
  out.error(errorAnswer(e).message);
  out.end();
}

/**
 * A request body handed to a reader that may stop early (a refused archive) and destroy what it
 * reads. The request itself is never destroyed: `drain()` reads what the client still sends, so
 * its upload completes and it reads the answer, instead of a reset connection (a unix socket
 * closed with unread bytes resets its peer).
 */
function shielded(req: IncomingMessage): { body: Readable; drain: () => Promise<void> } {
  const body = new PassThrough();
  req.pipe(body);
  req.once('error', (e) => body.destroy(e));
  body.on('error', () => undefined); // the reader sees it; the daemon must not die of it
  return {
    body,
    drain: async () => {
      req.unpipe(body);
      body.destroy();
      if (req.readableEnded || req.destroyed) return;
      await new Promise<void>((resolve) => {
        req.once('end', resolve).once('close', resolve).once('error', () => resolve());
        req.resume();
      });
    },
  };
}

/** Per-layer pull lines, as dockerd sends them, from the image side's layer events. */
class PullLines {
  readonly #state = new Map<string, string>();
  readonly #lastBar = new Map<string, number>();
  #headerSent = false;

  constructor(readonly out: JsonLines, readonly header: { id: string; status: string }) {}

  sendHeader(): void {
    if (this.#headerSent) return;
    this.#headerSent = true;
    this.out.status(this.header.status, this.header.id);
  }

  update(p: LayerProgress): void {
    this.sendHeader();
    const id = layerId(p.digest);
    const prev = this.#state.get(id);
    if (prev === 'Pull complete' || prev === 'Already exists') return;
    if (prev === undefined && p.phase !== 'exists') this.#set(id, 'Pulling fs layer');
    switch (p.phase) {
      case 'waiting':
        return;
      case 'exists':
        return this.#set(id, 'Already exists');
      case 'downloading': {
        if (p.current === undefined || p.current === 0) return;
        const now = Date.now();
        if (now - (this.#lastBar.get(id) ?? 0) < PROGRESS_INTERVAL_MS && p.current < p.total) return;
        this.#lastBar.set(id, now);
        this.#state.set(id, 'Downloading');
        this.out.layer(id, 'Downloading', p.current, p.total);
        return;
      }
      case 'downloaded':
        this.#set(id, 'Verifying Checksum');
        return this.#set(id, 'Download complete');
      case 'extracting':
        return this.#set(id, 'Extracting');
      case 'complete':
        if (this.#state.get(id) !== 'Download complete' && this.#state.get(id) !== 'Extracting') this.#set(id, 'Download complete');
        return this.#set(id, 'Pull complete');
    }
  }

  #set(id: string, status: string): void {
    if (this.#state.get(id) === status) return;
    this.#state.set(id, status);
    this.out.layer(id, status);
  }
}

async function pull(c: RouteContext, engine: Engine, fromImage: string): Promise<void> {
  const name = pullReference(fromImage, c.query.get('tag') ?? '');
  const ref = parseRef(name);
  const out = new JsonLines(c.res);
  const lines = new PullLines(out, { id: ref.digest ?? ref.tag ?? 'latest', status: `Pulling from ${ref.path}` });
  const signal = clientGone(c);
  try {
    const platform = c.query.get('platform');
    const credentials = registryAuthHeader(c.req.headers['x-registry-auth']);
    const r = await engine.images.pull(ref.toString(), {
      ...(credentials && { credentials }),
      ...(platform !== null && { platform }),
      onProgress: (p) => lines.update(p),
      onRetry: (m) => out.status(m),
      signal,
    });
    lines.sendHeader();
    out.status(`Digest: ${r.indexDigest ?? r.manifestDigest}`);
    out.status(`Status: ${r.fresh ? 'Downloaded newer image' : 'Image is up to date'} for ${parseReference(r.name).familiar()}`);
    out.end();
  } catch (e) {
    streamFailure(out, e, signal);
  }
}

async function importImage(c: RouteContext, engine: Engine, fromSrc: string): Promise<void> {
  if (fromSrc !== '-') throw new InvalidParameterError(`fromSrc ${JSON.stringify(fromSrc)}: importing from a URL is not supported (send the tarball as the body with fromSrc=-)`);
  const repo = c.query.get('repo') ?? '';
  const tag = c.query.get('tag') ?? '';
  if (repo === '' && tag !== '') throw new InvalidParameterError('import: a tag without a repository (the repo query parameter)');
  const platform = c.query.get('platform');
  const { body, drain } = shielded(c.req);
  let r: Awaited<ReturnType<Engine['images']['import']>>;
  try {
    r = await engine.images.import(body, {
      ...(repo !== '' && { reference: pullReference(repo, tag) }),
      ...(c.query.get('message') !== null && { message: c.query.get('message')! }),
      changes: c.query.getAll('changes'),
      ...(platform !== null && { platform }),
    });
  } catch (e) {
    await drain();
    throw e;
  }
  const out = new JsonLines(c.res);
  out.status(r.configDigest);
  out.end();
}

/** Pushes `name` (`tag` given, or the tag in the name, or every local tag of the repository). */
async function push(c: RouteContext, engine: Engine): Promise<void> {
  const given = parseRef(c.params.name!);
  const tag = c.query.get('tag') ?? '';
  let targets: ImageReference[];
  if (tag !== '') targets = [parseRef(pullReference(given.repository(), tag))];
  else if (!given.tagDefaulted || given.digest !== undefined) targets = [given];
  else targets = await engine.images.tagsOf(given.repository());
  if (targets.length === 0) throw new NotFoundError(`An image does not exist locally with the tag: ${given.familiarName()}`);
  const credentials = registryAuthHeader(c.req.headers['x-registry-auth']);
  const out = new JsonLines(c.res);
  const signal = clientGone(c);
  try {
    out.status(`The push refers to repository [${given.repository()}]`);
    for (const target of targets) {
      const seen = new Set<string>();
      const lastBar = new Map<string, number>();
      const onProgress = (p: PushProgress): void => {
        if (p.kind !== 'layer') return;
        const id = layerId(p.digest);
        if (!seen.has(id)) {
          seen.add(id);
          out.layer(id, 'Preparing');
        }
        if (p.status === 'uploading') {
          const now = Date.now();
          if (now - (lastBar.get(id) ?? 0) < PROGRESS_INTERVAL_MS) return;
          lastBar.set(id, now);
          out.layer(id, 'Pushing', p.bytes ?? 0, p.size);
        } else if (p.status === 'exists') out.layer(id, 'Layer already exists');
        else if (p.status === 'mounted') out.layer(id, `Mounted from ${p.from ?? ''}`);
        else out.layer(id, 'Pushed');
      };
      const r = await engine.images.push(target, { ...(credentials && { credentials }), onProgress, onRetry: (m) => out.status(m), signal });
      out.status(`${r.reference}: digest: ${r.digest} size: ${r.size}`);
      out.write({ progressDetail: {}, aux: { Tag: r.reference, Digest: r.digest, Size: r.size } });
    }
    out.end();
  } catch (e) {
    streamFailure(out, e, signal);
  }
}

async function save(c: RouteContext, engine: Engine, names: string[]): Promise<void> {
  if (names.length === 0) throw new InvalidParameterError('save: no image names (the names query parameter)');
  const items = await engine.images.resolveSave(names);
  c.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  await engine.images.save(items, c.res);
  c.res.end();
}

/**
 * `POST /images/load`: as dockerd, always a 200 and JSON lines: `Loaded image: NAME` (or `Loaded
 * image ID:`) as `stream` messages, a refused archive as the in-stream error. What the loader
 * notes on the way (an entry skipped, a name it cannot use) are `status` lines, left out with
 * `quiet`; berth's CLI shows them on stderr.
 */
async function load(c: RouteContext, engine: Engine): Promise<void> {
  const quiet = queryBool(c.query, 'quiet');
  const out = new JsonLines(c.res);
  const { body, drain } = shielded(c.req);
  try {
    const r = await engine.images.load(body, (line) => {
      c.log.debug(`load: ${line}`);
      if (!quiet) out.status(line);
    });
    for (const line of r.lines) out.write({ stream: `${line}\n` });
  } catch (e) {
    await drain();
    out.error(errorAnswer(e).message);
  }
  out.end();
}

/** `POST /images/prune`: docker's `dangling` filter (false: every unused image); berth has no others. */
async function prune(c: RouteContext, engine: Engine): Promise<void> {
  const filters = queryFilters(c.query);
  let all = false;
  for (const [k, values] of Object.entries(filters)) {
    if (k !== 'dangling') throw new InvalidParameterError(`invalid filter '${k}': berth's image prune takes only 'dangling'`);
    for (const v of values) {
      if (['false', '0'].includes(v.toLowerCase())) all = true;
      else if (!['true', '1'].includes(v.toLowerCase())) throw new InvalidParameterError(`invalid filter 'dangling=${v}'`);
    }
  }
  sendJson(c.res, 200, await engine.images.prune({ all }));
}

export function imageRoutes(r: Router, engine: Engine): void {
  r.get('/images/json', async (c) => {
    sendJson(c.res, 200, await engine.images.list({ all: queryBool(c.query, 'all'), filters: queryFilters(c.query) }));
  });
  r.post('/images/create', async (c) => {
    const fromImage = c.query.get('fromImage') ?? '';
    const fromSrc = c.query.get('fromSrc') ?? '';
    if (fromImage !== '' && fromSrc !== '') throw new InvalidParameterError('create: give fromImage (pull) or fromSrc (import), not both');
    if (fromImage !== '') return pull(c, engine, fromImage);
    if (fromSrc !== '') return importImage(c, engine, fromSrc);
    throw new InvalidParameterError('create: want fromImage (pull) or fromSrc (import)');
  });
  r.get('/images/get', (c) => save(c, engine, c.query.getAll('names').flatMap((n) => n.split(',')).filter((n) => n !== '')));
  r.post('/images/load', (c) => load(c, engine));
  r.post('/images/prune', (c) => prune(c, engine));
  r.get('/images/{name}/json', async (c) => sendJson(c.res, 200, await engine.images.inspect(c.params.name!)));
  r.get('/images/{name}/history', async (c) => sendJson(c.res, 200, await engine.images.history(c.params.name!)));
  r.get('/images/{name}/get', (c) => save(c, engine, [c.params.name!]));
  r.post('/images/{name}/tag', async (c) => {
    const repo = c.query.get('repo') ?? '';
    const tag = c.query.get('tag') ?? '';
    if (repo === '') throw new InvalidParameterError('tag: want a repository (the repo query parameter)');
    await engine.images.tag(c.params.name!, tag === '' ? repo : `${repo}:${tag}`);
    sendEmpty(c.res, 201);
  });
  r.post('/images/{name}/push', (c) => push(c, engine));
  r.delete('/images/{name}', async (c) => {
    // noprune: berth keeps no untagged parent images, so there is nothing it would change
    sendJson(c.res, 200, await engine.images.remove(c.params.name!, { force: queryBool(c.query, 'force') }));
  });
}
