/**
 * DNS messages (RFC 1035) from untrusted bytes: every read is bounds-checked, names are limited to
 * 255 bytes, labels to 63, and compression pointers may only point backwards (so they cannot loop)
 * and at most MAX_JUMPS times. A message that breaks a rule is a DnsFormatError, never a crash.
 */

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, OPT: 41, ANY: 255 } as const;
export const CLASS_IN = 1;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export const HEADER_LEN = 12;
const MAX_NAME = 255;
const MAX_LABEL = 63;
const MAX_JUMPS = 16;
/** the largest message berth's DNS server reads; anything longer is refused as malformed */
export const MAX_MESSAGE = 4096;

export class DnsFormatError extends Error {
  override name = 'DnsFormatError';
}

export interface Header {
  id: number;
  qr: boolean;
  opcode: number;
  rd: boolean;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export interface Question {
  /** the labels as sent (case kept, for the answer's question section) */
  labels: Buffer[];
  type: number;
  class: number;
}

export interface Query {
  header: Header;
  question: Question;
  /** the requestor's UDP payload size from its OPT record; undefined without EDNS */
  ednsSize?: number;
}

export function readHeader(buf: Buffer): Header {
  if (buf.length < HEADER_LEN) throw new DnsFormatError(`message of ${buf.length} bytes is shorter than a header`);
  const flags = buf.readUInt16BE(2);
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    rd: (flags & 0x0100) !== 0,
    rcode: flags & 0xf,
    qdcount: buf.readUInt16BE(4),
    ancount: buf.readUInt16BE(6),
    nscount: buf.readUInt16BE(8),
    arcount: buf.readUInt16BE(10),
  };
}

/** A name at `offset`: its labels and the offset just after it in the message (not after a pointer's target). */
export function readName(buf: Buffer, offset: number): { labels: Buffer[]; next: number } {
  const labels: Buffer[] = [];
  let pos = offset;
  let next = -1;
  let jumps = 0;
  let total = 1;
  for (;;) {
    if (pos >= buf.length) throw new DnsFormatError(`name at ${offset} runs past the end of the message`);
    const len = buf[pos]!;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new DnsFormatError(`compression pointer at ${pos} is cut off`);
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      // only backwards, to an earlier label: a pointer can never reach itself again
      if (target >= pos || ++jumps > MAX_JUMPS) throw new DnsFormatError(`compression pointer at ${pos} to ${target} loops`);
      if (next < 0) next = pos + 2;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsFormatError(`label type 0x${(len & 0xc0).toString(16)} at ${pos} is not supported`);
    if (len === 0) {
      if (next < 0) next = pos + 1;
      return { labels, next };
    }
    if (len > MAX_LABEL) throw new DnsFormatError(`label of ${len} bytes at ${pos}`);
    if (pos + 1 + len > buf.length) throw new DnsFormatError(`label at ${pos} runs past the end of the message`);
    total += len + 1;
    if (total > MAX_NAME) throw new DnsFormatError(`name at ${offset} is longer than ${MAX_NAME} bytes`);
    labels.push(buf.subarray(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
}

function need(buf: Buffer, offset: number, n: number, what: string): void {
  if (offset + n > buf.length) throw new DnsFormatError(`${what} at ${offset} runs past the end of the message`);
}

/** A query berth answers or forwards: one question, and the OPT record if any. */
export function parseQuery(buf: Buffer): Query {
  if (buf.length > MAX_MESSAGE) throw new DnsFormatError(`message of ${buf.length} bytes is longer than ${MAX_MESSAGE}`);
  const header = readHeader(buf);
  if (header.qdcount !== 1) throw new DnsFormatError(`${header.qdcount} questions, not 1`);
  const q = readName(buf, HEADER_LEN);
  need(buf, q.next, 4, 'question');
  const question: Question = { labels: q.labels, type: buf.readUInt16BE(q.next), class: buf.readUInt16BE(q.next + 2) };
  let pos = q.next + 4;
  let ednsSize: number | undefined;
  const records = header.ancount + header.nscount + header.arcount;
  for (let i = 0; i < records; i++) {
    const n = readName(buf, pos);
    need(buf, n.next, 10, 'resource record');
    const type = buf.readUInt16BE(n.next);
    const rdlen = buf.readUInt16BE(n.next + 8);
    need(buf, n.next + 10, rdlen, 'record data');
    if (type === TYPE.OPT && i >= header.ancount + header.nscount) {
      if (ednsSize !== undefined) throw new DnsFormatError('more than one OPT record');
      if (n.labels.length !== 0) throw new DnsFormatError('OPT record with a name');
      ednsSize = Math.max(512, buf.readUInt16BE(n.next + 2));
    }
    pos = n.next + 10 + rdlen;
  }
  const out: Query = { header, question };
  if (ednsSize !== undefined) out.ednsSize = ednsSize;
  return out;
}

/** The question's name for lookups: lowercase ASCII, dot-joined, no trailing dot; undefined if a label could not be written that way. */
export function nameText(labels: Buffer[]): string | undefined {
  const parts: string[] = [];
  for (const l of labels) {
    for (const b of l) if (b <= 0x20 || b >= 0x7f || b === 0x2e || b === 0x5c) return undefined;
    parts.push(l.toString('latin1').toLowerCase());
  }
  return parts.join('.');
}

function encodeName(labels: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const l of labels) parts.push(Buffer.from([l.length]), l);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** A text name ("web.example") as labels; undefined if a label is empty or too long, or the name too long. */
export function labelsOf(name: string): Buffer[] | undefined {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n === '') return [];
  const labels = n.split('.').map((l) => Buffer.from(l, 'utf8'));
  if (labels.some((l) => l.length === 0 || l.length > MAX_LABEL)) return undefined;
  if (labels.reduce((t, l) => t + l.length + 1, 1) > MAX_NAME) return undefined;
  return labels;
}

export interface Answer {
  type: number;
  ttl: number;
  data: Buffer;
}

/**
 * A response to `q`: its id, opcode, RD and question, RA set, `answers` named by a pointer to the
 * question. When it exceeds `limit` bytes the answers are dropped and TC set (the client retries over TCP).
 */
export function buildResponse(q: Query, rcode: number, answers: Answer[], opts: { aa?: boolean; limit?: number } = {}): Buffer {
  const question = Buffer.concat([encodeName(q.question.labels), u16(q.question.type), u16(q.question.class)]);
  // EDNS in, EDNS out: an OPT record with our payload size
  const opt = q.ednsSize !== undefined ? Buffer.from([0, 0, 41, (MAX_MESSAGE >> 8) & 0xff, MAX_MESSAGE & 0xff, 0, 0, 0, 0, 0, 0]) : Buffer.alloc(0);
  const rrs = answers.map((a) => Buffer.concat([u16(0xc000 | HEADER_LEN), u16(a.type), u16(CLASS_IN), u32(a.ttl), u16(a.data.length), a.data]));
  const header = (tc: boolean, ancount: number) => {
    const h = Buffer.alloc(HEADER_LEN);
    h.writeUInt16BE(q.header.id, 0);
    h.writeUInt16BE(0x8000 | (q.header.opcode << 11) | (opts.aa ? 0x0400 : 0) | (tc ? 0x0200 : 0) | (q.header.rd ? 0x0100 : 0) | 0x0080 | (rcode & 0xf), 2);
    h.writeUInt16BE(1, 4);
    h.writeUInt16BE(ancount, 6);
    h.writeUInt16BE(0, 8);
    h.writeUInt16BE(opt.length > 0 ? 1 : 0, 10);
    return h;
  };
  const full = Buffer.concat([header(false, rrs.length), question, ...rrs, opt]);
  if (opts.limit === undefined || full.length <= opts.limit) return full;
  return Buffer.concat([header(true, 0), question, opt]);
}

/** FORMERR for a message whose question could not be read: its id, no question. */
export function formErr(buf: Buffer): Buffer | undefined {
  if (buf.length < HEADER_LEN) return undefined;
  const h = Buffer.alloc(HEADER_LEN);
  h.writeUInt16BE(buf.readUInt16BE(0), 0);
  h.writeUInt16BE(0x8000 | (buf.readUInt16BE(2) & 0x7900) | 0x0080 | RCODE.FORMERR, 2);
  return h;
}

export function nameData(name: string): Buffer | undefined {
  const labels = labelsOf(name);
  return labels && encodeName(labels);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
