// berth's per-network DNS server: names it knows answered (A, AAAA, PTR; a known name without a
// record of the type gets an empty NOERROR, never forwarded), others relayed to upstreams in order
// with the client's id, SERVFAIL when none answers, TC for big UDP answers, TCP framing, and
// malformed input answered with FORMERR or dropped while the server keeps serving.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, test } from 'node:test';

import { DnsServer, type DnsAnswer } from '../../src/network/dns/server.ts';
import { hostResolvers } from '../../src/network/dns/resolvconf.ts';

const servers: DnsServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function start(opts: Partial<Parameters<typeof DnsServer.start>[0]> & { names?: Record<string, DnsAnswer> }): Promise<DnsServer> {
  const names = opts.names ?? {};
  const s = await DnsServer.start({ address: '127.0.0.1', port: 0, upstreams: [], resolve: (n) => names[n], ...opts });
  servers.push(s);
  return s;
}

// ---- a tiny DNS client, independent of the server's own parser ----
const T = { A: 1, PTR: 12, MX: 15, AAAA: 28 };

function query(name: string, type: number, opts: { id?: number; edns?: number } = {}): Buffer {
  const labels = name.split('.').filter(Boolean).flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(opts.id ?? 0x1234, 0);
  h.writeUInt16BE(0x0100, 2); // RD
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(opts.edns ? 1 : 0, 10);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(type, 0);
  q.writeUInt16BE(1, 2);
  const opt = opts.edns ? Buffer.from([0, 0, 41, opts.edns >> 8, opts.edns & 0xff, 0, 0, 0, 0, 0, 0]) : Buffer.alloc(0);
  return Buffer.concat([h, ...labels, Buffer.from([0]), q, opt]);
}

interface Reply {
  id: number;
  rcode: number;
  tc: boolean;
  aa: boolean;
  qname: string;
  answers: { type: number; ttl: number; data: string }[];
  size: number;
}

function skipName(b: Buffer, p: number): number {
  for (;;) {
    const l = b[p]!;
    if (l === 0) return p + 1;
    if ((l & 0xc0) === 0xc0) return p + 2;
    p += l + 1;
  }
}

function nameAt(b: Buffer, p: number): string {
  const out: string[] = [];
  for (let guard = 0; guard < 50; guard++) {
    const l = b[p]!;
    if (l === 0) return out.join('.');
    if ((l & 0xc0) === 0xc0) {
      p = ((l & 0x3f) << 8) | b[p + 1]!;
      continue;
    }
    out.push(b.subarray(p + 1, p + 1 + l).toString());
    p += l + 1;
  }
  throw new Error('name loop in a response');
}

function decode(b: Buffer): Reply {
  const flags = b.readUInt16BE(2);
  const qd = b.readUInt16BE(4);
  const an = b.readUInt16BE(6);
  let p = 12;
  const qname = qd ? nameAt(b, p) : '';
  for (let i = 0; i < qd; i++) p = skipName(b, p) + 4;
  const answers: Reply['answers'] = [];
  for (let i = 0; i < an; i++) {
    p = skipName(b, p);
    const type = b.readUInt16BE(p);
    const ttl = b.readUInt32BE(p + 4);
    const len = b.readUInt16BE(p + 8);
    const rd = b.subarray(p + 10, p + 10 + len);
    const data = type === T.A ? [...rd].join('.') : type === T.AAAA ? rd.toString('hex') : type === T.PTR ? nameAt(b, p + 10) : rd.toString('hex');
    answers.push({ type, ttl, data });
    p += 10 + len;
  }
  return { id: b.readUInt16BE(0), rcode: flags & 0xf, tc: (flags & 0x200) !== 0, aa: (flags & 0x400) !== 0, qname, answers, size: b.length };
}

function udp(port: number, msg: Buffer, timeoutMs = 3000, host = '127.0.0.1'): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, timeoutMs);
    s.on('error', (e) => {
      clearTimeout(timer);
      s.close();
      reject(e);
    });
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(msg, port, host);
  });
}

async function ask(port: number, name: string, type: number, opts: { id?: number; edns?: number } = {}): Promise<Reply> {
  const r = await udp(port, query(name, type, opts));
  assert.ok(r, `an answer to ${name}/${type}`);
  return decode(r);
}

/** Queries over one TCP connection, all written at once (pipelined); the replies by id. */
function tcp(port: number, msgs: Buffer[]): Promise<Map<number, Reply>> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const out = new Map<number, Reply>();
    s.on('error', reject);
    s.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const r = decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        out.set(r.id, r);
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (out.size === msgs.length) {
        s.end();
        resolve(out);
      }
    });
    s.write(Buffer.concat(msgs.map((m) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]))));
  });
}

const NAMES: Record<string, DnsAnswer> = {
  web: { v4: ['172.18.0.2'], v6: ['fd00:18::2'] },
  'web.alias': { v4: ['172.18.0.2', '172.18.0.3'], v6: [] },
  v4only: { v4: ['172.18.0.4'], v6: [] },
};

test('A, AAAA and PTR of known names are answered (TTL 600); a missing type is an empty NOERROR, not forwarded', async () => {
  let upstreamAsked = 0;
  const upstream = await start({ resolve: () => (upstreamAsked++, undefined) });
  const s = await start({
    names: NAMES,
    ptr: (ip) => ({ '172.18.0.2': 'web.mynet', 'fd00:18::2': 'web.mynet' })[ip],
    upstreams: [`127.0.0.1:${upstream.port}`],
  });
  assert.ok(s.port > 0 && s.port !== 53);
  const a = await ask(s.port, 'WeB', T.A, { id: 77 });
  assert.deepEqual({ id: a.id, rcode: a.rcode, qname: a.qname, aa: a.aa }, { id: 77, rcode: 0, qname: 'WeB', aa: true }, 'case of the question kept, lookup case-insensitive');
  assert.deepEqual(a.answers, [{ type: T.A, ttl: 600, data: '172.18.0.2' }]);
  assert.deepEqual((await ask(s.port, 'web.', T.AAAA)).answers, [{ type: T.AAAA, ttl: 600, data: 'fd000018000000000000000000000002' }]);
  assert.deepEqual((await ask(s.port, 'web.alias', T.A)).answers.map((x) => x.data), ['172.18.0.2', '172.18.0.3']);
  const none = await ask(s.port, 'v4only', T.AAAA);
  assert.deepEqual({ rcode: none.rcode, n: none.answers.length }, { rcode: 0, n: 0 });
  const ptr = await ask(s.port, '2.0.18.172.in-addr.arpa', T.PTR);
  assert.deepEqual(ptr.answers, [{ type: T.PTR, ttl: 600, data: 'web.mynet' }]);
  const ptr6 = await ask(s.port, `2.${'0.'.repeat(23)}8.1.0.0.0.0.d.f.ip6.arpa`, T.PTR); // fd00:18::2
  assert.deepEqual(ptr6.answers.map((x) => x.data), ['web.mynet']);
  assert.equal(upstreamAsked, 0, 'nothing above was forwarded');
  // an address without a name, and other types of a known name, go to the upstream (which knows nothing here: SERVFAIL relayed)
  assert.equal((await ask(s.port, '9.0.18.172.in-addr.arpa', T.PTR)).rcode, 2);
  assert.equal((await ask(s.port, 'web', T.MX)).rcode, 2);
});

test('unknown names are relayed to the first upstream that answers, with the client\'s id', async () => {
  const upstream = await start({ address: '127.0.0.2', names: { 'outside.test': { v4: ['10.9.8.7'], v6: [] } } });
  // a closed port (refused at once) first, then the live upstream
  const s = await start({ names: NAMES, upstreams: ['127.0.0.3:9', `127.0.0.2:${upstream.port}`] });
  const r = await ask(s.port, 'outside.test', T.A, { id: 4242 });
  assert.deepEqual({ id: r.id, rcode: r.rcode, answers: r.answers.map((x) => x.data) }, { id: 4242, rcode: 0, answers: ['10.9.8.7'] });
  // over TCP the relay is over TCP too
  const t = await tcp(s.port, [query('outside.test', T.A, { id: 9 })]);
  assert.deepEqual(t.get(9)?.answers.map((x) => x.data), ['10.9.8.7']);
});

test('an upstream that never answers: the next is tried, then SERVFAIL within the timeouts', async () => {
  const hole = dgram.createSocket('udp4');
  await new Promise<void>((r) => hole.bind(0, '127.0.0.1', r));
  try {
    const dead = `127.0.0.1:${hole.address().port}`;
    const s = await start({ names: NAMES, upstreams: [dead, dead], timeoutMs: 300 });
    const t0 = Date.now();
    const r = await ask(s.port, 'nowhere.test', T.A, { id: 5 });
    const took = Date.now() - t0;
    assert.deepEqual({ id: r.id, rcode: r.rcode }, { id: 5, rcode: 2 });
    assert.ok(took >= 550 && took < 3000, `SERVFAIL after both timeouts, took ${took} ms`);
    assert.equal((await ask(s.port, 'web', T.A)).answers.length, 1, 'local names still answered');
  } finally {
    hole.close();
  }
});

test('big answers: TC over UDP without EDNS, whole with EDNS and over TCP (pipelined)', async () => {
  const many = Array.from({ length: 60 }, (_, i) => `10.0.${i >> 8}.${i & 0xff}`);
  const s = await start({ names: { big: { v4: many, v6: [] }, ...NAMES } });
  const plain = await ask(s.port, 'big', T.A);
  assert.deepEqual({ tc: plain.tc, n: plain.answers.length }, { tc: true, n: 0 });
  assert.ok(plain.size <= 512);
  const edns = await ask(s.port, 'big', T.A, { edns: 4096 });
  assert.deepEqual({ tc: edns.tc, n: edns.answers.length }, { tc: false, n: 60 });
  const small = await ask(s.port, 'web', T.A);
  assert.equal(small.tc, false);
  const t = await tcp(s.port, [query('big', T.A, { id: 1 }), query('web', T.AAAA, { id: 2 }), query('v4only', T.AAAA, { id: 3 })]);
  assert.equal(t.get(1)?.answers.length, 60);
  assert.equal(t.get(1)?.tc, false);
  assert.equal(t.get(2)?.answers.length, 1);
  assert.deepEqual({ rcode: t.get(3)?.rcode, n: t.get(3)?.answers.length }, { rcode: 0, n: 0 });
});

test('malformed packets get FORMERR or silence, and the server keeps answering', async () => {
  const s = await start({ names: NAMES });
  const header = (qd: number) => Buffer.from([0xab, 0xcd, 0x01, 0x00, 0, qd, 0, 0, 0, 0, 0, 0]);
  const tail = Buffer.from([0, 1, 0, 1]);
  const formerr = async (what: string, msg: Buffer) => {
    const r = await udp(s.port, msg, 2000);
    assert.ok(r, `${what}: an answer`);
    assert.deepEqual({ id: r.readUInt16BE(0), rcode: r.readUInt16BE(2) & 0xf, qr: (r[2]! & 0x80) !== 0 }, { id: 0xabcd, rcode: 1, qr: true }, what);
  };
  await formerr('pointer to itself', Buffer.concat([header(1), Buffer.from([0xc0, 12]), tail]));
  await formerr('pointer forwards', Buffer.concat([header(1), Buffer.from([0xc0, 14, 0xc0, 12]), tail]));
  await formerr('two pointers to each other', Buffer.concat([header(1), Buffer.from([1, 0x61, 0xc0, 16, 0xc0, 12]), tail]));
  await formerr('label past the end', Buffer.concat([header(1), Buffer.from([40, 0x61, 0x62])]));
  await formerr('question cut short', Buffer.concat([header(1), Buffer.from([1, 0x61, 0, 0, 1])]));
  await formerr('label type 01', Buffer.concat([header(1), Buffer.from([0x41, 0]), tail]));
  await formerr('label over 63 bytes', Buffer.concat([header(1), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0]), tail]));
  await formerr('name over 255 bytes', Buffer.concat([header(1), ...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([60]), Buffer.alloc(60, 0x61)])), Buffer.from([0]), tail]));
  await formerr('no question', header(0));
  await formerr('two questions', Buffer.concat([header(2), Buffer.from([1, 0x61, 0]), tail, Buffer.from([1, 0x61, 0]), tail]));
  await formerr('oversized', Buffer.concat([header(1), Buffer.from([1, 0x61, 0]), tail, Buffer.alloc(6000)]));
  await formerr('additional record cut short', Buffer.concat([Buffer.from([0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1]), Buffer.from([1, 0x61, 0]), tail, Buffer.from([0, 0, 41])]));
  assert.equal(await udp(s.port, Buffer.from([1, 2, 3, 4, 5]), 300), undefined, 'a truncated header is dropped');
  assert.equal(await udp(s.port, Buffer.alloc(0), 300), undefined, 'an empty datagram is dropped');
  const response = query('web', T.A);
  response[2]! |= 0x80;
  assert.equal(await udp(s.port, response, 300), undefined, 'a response sent to the server is dropped');
  // random garbage, some of it shaped like a query
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);
  const sock = dgram.createSocket('udp4');
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.alloc(rnd() % 600);
    for (let j = 0; j < b.length; j++) b[j] = rnd() & 0xff;
    if (i % 2 && b.length > 12) b.writeUInt16BE(0x0100 | (b.readUInt16BE(2) & 0x007f), 2);
    sock.send(b, s.port, '127.0.0.1');
  }
  await new Promise((r) => setTimeout(r, 300));
  sock.close();
  // garbage on TCP: a length shorter than a header closes that connection only
  await new Promise<void>((resolve) => {
    const c = net.connect(s.port, '127.0.0.1', () => c.write(Buffer.from([0, 3, 1, 2, 3])));
    c.on('close', () => resolve());
    c.on('error', () => {});
  });
  const ok = await ask(s.port, 'web', T.A);
  assert.deepEqual(ok.answers.map((x) => x.data), ['172.18.0.2']);
  const t = await tcp(s.port, [query('web', T.A, { id: 8 })]);
  assert.equal(t.get(8)?.answers.length, 1);
});

test('a resolve callback that throws gets SERVFAIL for that query only', async () => {
  const s = await start({ resolve: (n) => {
    if (n === 'boom') throw new Error('broken table');
    return NAMES[n];
  } });
  assert.equal((await ask(s.port, 'boom', T.A, { id: 3 })).rcode, 2);
  assert.deepEqual((await ask(s.port, 'web', T.A)).answers.map((x) => x.data), ['172.18.0.2']);
});

test('close frees the port; a bad address or upstream is refused at start', async () => {
  const s = await DnsServer.start({ address: '127.0.0.1', port: 0, upstreams: [], resolve: () => undefined });
  const port = s.port;
  await s.close();
  const again = await DnsServer.start({ address: '127.0.0.1', port, upstreams: ['127.0.0.53', '[::1]:5353'], resolve: () => undefined });
  assert.equal(again.port, port);
  await again.close();
  await assert.rejects(DnsServer.start({ address: 'nope', upstreams: [], resolve: () => undefined }), /invalid DNS server address "nope"/);
  await assert.rejects(DnsServer.start({ address: '127.0.0.1', port: 0, upstreams: ['1.2.3.4:99999'], resolve: () => undefined }), /invalid DNS upstream "1.2.3.4:99999"/);
  const held = await start({});
  await assert.rejects(DnsServer.start({ address: '127.0.0.1', port: held.port, upstreams: [], resolve: () => undefined }), new RegExp(`cannot serve DNS on 127.0.0.1:${held.port}/udp: .*EADDRINUSE`));
});

test('hostResolvers reads resolv.conf as glibc does', () => {
  const r = hostResolvers(`# generated
nameserver 10.0.0.2
; another comment
nameserver   fd00::53   # trailing comment
domain first.example
search a.example b.example
options ndots:2 timeout:1
options attempts:3
bogus line
nameserver
`);
  assert.deepEqual(r, { nameservers: ['10.0.0.2', 'fd00::53'], search: ['a.example', 'b.example'], options: ['ndots:2', 'timeout:1', 'attempts:3'] });
  assert.deepEqual(hostResolvers('search x.example\ndomain y.example\n').search, ['y.example'], 'the last of search/domain wins');
  assert.deepEqual(hostResolvers(''), { nameservers: [], search: [], options: [] });
});
