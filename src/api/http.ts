/**
 * Request decoding shared by the routes: bodies (bounded), JSON bodies (a malformed one is a 400
 * naming what is wrong), docker's query booleans and filters, and the JSON answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { InvalidParameterError } from '../engine/errors.ts';

/** Largest JSON body read into memory (container configs are a few kB). */
export const MAX_JSON_BODY = 10 << 20;

export async function readBody(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new InvalidParameterError(`request body larger than ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * The request's JSON body. Empty is `undefined` (docker accepts an empty body where every field
 * is optional); anything else must parse, or the answer is a 400 saying where it broke.
 */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req);
  if (body.length === 0 || body.toString('utf8').trim() === '') return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new InvalidParameterError(`malformed JSON request body: ${(e as Error).message}`);
  }
}

/** A JSON object body, or a 400 saying it is not one. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const v = await readJson(req);
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidParameterError(`malformed JSON request body: want a JSON object, got ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v}`);
  return v as Record<string, unknown>;
}

/** docker's httputils.BoolValue: anything but "", "0", "no", "false", "none" is true. */
export function queryBool(q: URLSearchParams, name: string): boolean {
  const v = (q.get(name) ?? '').trim().toLowerCase();
  return !['', '0', 'no', 'false', 'none'].includes(v);
}

/**
 * docker's `filters` query parameter: JSON, either `{"key":["v1","v2"]}` or the form docker's
 * own clients send, `{"key":{"v1":true}}`. Absent or empty is no filter.
 */
export function queryFilters(q: URLSearchParams): Record<string, string[]> {
  const raw = q.get('filters');
  if (raw === null || raw.trim() === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (e) {
    throw new InvalidParameterError(`invalid filters ${JSON.stringify(raw)}: not JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new InvalidParameterError(`invalid filters ${JSON.stringify(raw)}: want a JSON object`);
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[k] = v as string[];
    else if (typeof v === 'object' && v !== null && !Array.isArray(v)) out[k] = Object.entries(v).filter(([, on]) => on === true).map(([x]) => x);
    else throw new InvalidParameterError(`invalid filters: "${k}": want an array of strings or an object of booleans`);
  }
  return out;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** An answer without a body (201 of tag, 204 of many verbs). */
export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Length': 0 });
  res.end();
}
