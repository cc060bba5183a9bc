/**
 * Exec routes of the Engine API v1.41: create (`POST /containers/{id}/exec`), start (hijacked,
 * or detached), resize and inspect. Decode the request, call the engine's exec verbs, encode
 * docker's answer.
 */
import type { Engine } from '../../engine/engine.ts';
import { InvalidParameterError } from '../../engine/errors.ts';
import type { ExecCreateRequest } from '../../engine/containers/exec.ts';
import { errorAnswer } from '../errors.ts';
import { MAX_JSON_BODY, readJsonObject, sendEmpty, sendJson } from '../http.ts';
import type { HijackContext, Router } from '../router.ts';
import { MULTIPLEXED_STREAM, RAW_STREAM, hijack, stdFrame } from '../stream.ts';

const BOOLS = ['AttachStdin', 'AttachStdout', 'AttachStderr', 'Tty', 'Privileged'] as const;
const STRINGS = ['DetachKeys', 'User', 'WorkingDir'] as const;
const LISTS = ['Env', 'Cmd'] as const;

/**
 * Go's encoding/json matches a field's name case-insensitively when no key matches exactly:
 * the Python SDK sends `detachKeys`, which dockerd takes as DetachKeys.
 */
function goFields(body: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) {
    if (n in body) out[n] = body[n];
    else {
      const k = Object.keys(body).find((x) => x.toLowerCase() === n.toLowerCase());
      if (k !== undefined) out[n] = body[k];
    }
  }
  return out;
}

/** docker's ExecConfig, each field checked (a wrong type is a 400 naming the field). */
export function execConfig(raw: Record<string, unknown>): ExecCreateRequest {
  const body = goFields(raw, [...BOOLS, ...STRINGS, ...LISTS]);
  const out: ExecCreateRequest = {};
  for (const k of BOOLS) {
    const v = body[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'boolean') throw new InvalidParameterError(`${k}: want a boolean, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  for (const k of STRINGS) {
    const v = body[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') throw new InvalidParameterError(`${k}: want a string, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  for (const k of LISTS) {
    const v = body[k];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) throw new InvalidParameterError(`${k}: want an array of strings, got ${JSON.stringify(v)}`);
    v.forEach((s, i) => {
      if (typeof s !== 'string') throw new InvalidParameterError(`${k}[${i}]: want a string, got ${JSON.stringify(s)}`);
    });
    out[k] = v as string[];
  }
  return out;
}

/** docker's ExecStartCheck */
function startCheck(raw: Record<string, unknown>): { detach: boolean } {
  const body = goFields(raw, ['Detach', 'Tty']);
  for (const k of ['Detach', 'Tty'] as const) {
    const v = body[k];
    if (v !== undefined && v !== null && typeof v !== 'boolean') throw new InvalidParameterError(`${k}: want a boolean, got ${JSON.stringify(v)}`);
  }
  return { detach: body.Detach === true };
}

/**
 * The JSON body of an upgraded request: Node hands the socket over right after the headers, so
 * the body (Content-Length bytes) is read from `head` and the socket; what follows it is the
 * client's stdin and is put back.
 */
async function hijackedBody(c: HijackContext): Promise<Record<string, unknown>> {
  if (c.req.headers['transfer-encoding'] !== undefined) throw new InvalidParameterError('exec start: a chunked body cannot precede the hijacked stream: send Content-Length');
  const length = Number(c.req.headers['content-length'] ?? 0);
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_JSON_BODY) throw new InvalidParameterError(`exec start: bad Content-Length ${JSON.stringify(c.req.headers['content-length'])}`);
  let buf = c.head;
  c.head = Buffer.alloc(0);
  while (buf.length < length) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onData = (d: Buffer): void => done(d);
      const onEnd = (): void => done(null);
      const done = (d: Buffer | null): void => {
        c.socket.off('data', onData).off('end', onEnd).off('close', onEnd);
        c.socket.pause();
        resolve(d);
      };
      c.socket.on('data', onData).once('end', onEnd).once('close', onEnd);
      c.socket.resume();
    });
    if (chunk === null) throw new InvalidParameterError(`exec start: the connection ended inside the request body (${buf.length} of ${length} bytes)`);
    buf = Buffer.concat([buf, chunk]);
  }
  if (buf.length > length) c.head = buf.subarray(length);
  const text = buf.subarray(0, length).toString('utf8');
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InvalidParameterError(`malformed JSON request body: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidParameterError('malformed JSON request body: want a JSON object');
  return v as Record<string, unknown>;
}

async function startHijack(c: HijackContext, engine: Engine): Promise<void> {
  const ex = engine.containers.execs;
  const { detach } = startCheck(await hijackedBody(c));
  const x = ex.checkStartable(c.params.id!);
  if (detach) {
    await ex.start(x.id);
    c.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  const tty = x.tty;
  const sock = hijack(c.socket, c.head, tty ? RAW_STREAM : MULTIPLEXED_STREAM);
  const frame = (stream: 1 | 2, d: Buffer): Buffer => (tty ? d : stdFrame(stream, d));
  try {
    await ex.start(x.id, { socket: sock, frame });
  } catch (e) {
    // after the 101 only the stream can say it (dockerd writes it on stdout)
    if (sock.writable) sock.end(frame(1, Buffer.from(`${errorAnswer(e).message}\r\n`)));
  }
}

function dimension(q: URLSearchParams, name: string): number {
  const v = q.get(name) ?? '';
  if (!/^\d+$/.test(v) || Number(v) > 0xffff) throw new InvalidParameterError(`${name}: want an integer from 0 to 65535, got ${JSON.stringify(v)}`);
  return Number(v);
}

export function execRoutes(r: Router, engine: Engine): void {
  const ex = engine.containers.execs;
  r.post('/containers/{id}/exec', async (c) => {
    const body = execConfig(await readJsonObject(c.req));
    sendJson(c.res, 201, ex.create(c.params.id!, body));
  });
  r.post('/exec/{id}/start', async (c) => {
    const { detach } = startCheck(await readJsonObject(c.req));
    if (!detach) throw new InvalidParameterError('exec start: send the request with "Upgrade: tcp" (a hijacked connection), or with "Detach": true');
    await ex.start(c.params.id!);
    sendEmpty(c.res, 200);
  }, { hijack: (c) => startHijack(c, engine) });
  r.post('/exec/{id}/resize', (c) => {
    ex.resize(c.params.id!, dimension(c.query, 'h'), dimension(c.query, 'w'));
    sendEmpty(c.res, 200);
  });
  r.get('/exec/{id}/json', (c) => sendJson(c.res, 200, ex.inspect(c.params.id!)));
}
