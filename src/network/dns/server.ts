/**
 * The DNS server berthd runs on each user network's gateway (docker's embedded DNS): containers'
 * names and aliases answered from `resolve`, their addresses' PTR names from `ptr`, everything else
 * relayed to the host's resolvers — from berthd, so a resolver on the host's loopback works.
 * UDP and TCP (RFC 1035 length-prefixed, RFC 7766 pipelining) on one address and port.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';

import { formatIp, parseIp } from '../cidr.ts';
import { NetworkError } from '../errors.ts';
import { type Answer, type Query, CLASS_IN, HEADER_LEN, MAX_MESSAGE, RCODE, TYPE, buildResponse, formErr, nameData, nameText, parseQuery } from './message.ts';

export interface DnsAnswer {
  v4: string[];
  v6: string[];
}

export interface DnsServerOptions {
  address: string;
  /** 53 unless given; 0 for an ephemeral port (see `port`) */
  port?: number;
  /** A and AAAA records of a name (lowercase, no trailing dot); undefined for a name the network does not know */
  resolve: (name: string) => DnsAnswer | undefined;
  /** the name of an address ("172.18.0.2", "fd00::2"), for PTR queries */
  ptr?: (ip: string) => string | undefined;
  /** the resolvers unknown names are relayed to, tried in order: "ip", "ip:port" or "[ipv6]:port" */
  upstreams: string[];
  /** how long to wait for each upstream, 2000 ms unless given */
  timeoutMs?: number;
}

/** docker's embedded DNS answers with this TTL */
const TTL = 600;
/** queries being relayed at once; more are dropped (the client retries) instead of piling up sockets */
const MAX_FORWARDS = 256;
const MAX_TCP_CONNECTIONS = 64;
const TCP_IDLE_MS = 10_000;

interface Upstream {
  host: string;
  port: number;
  family: 4 | 6;
}

/** "ip", "ip:port" or "[ipv6]:port"; undefined if not one of those. */
export function parseUpstream(s: string): Upstream | undefined {
  let host = s;
  let port = 53;
  const bracket = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s);
  const hostPort = /^([^:]+):(\d{1,5})$/.exec(s);
  if (bracket) [host, port] = [bracket[1]!, Number(bracket[2])];
  else if (hostPort) [host, port] = [hostPort[1]!, Number(hostPort[2])];
  const ip = parseIp(host);
  if (!ip || port < 1 || port > 65535) return undefined;
  return { host: formatIp(ip), port, family: ip.family };
}

/** The address a reverse name stands for: 4.3.2.1.in-addr.arpa → 1.2.3.4, nibbles.ip6.arpa → IPv6. */
export function ptrAddress(name: string): string | undefined {
  const labels = name.split('.');
  if (name.endsWith('.in-addr.arpa') && labels.length === 6) {
    const ip = parseIp(labels.slice(0, 4).reverse().join('.'));
    return ip && formatIp(ip);
  }
  if (name.endsWith('.ip6.arpa') && labels.length === 34) {
    const nibbles = labels.slice(0, 32).reverse();
    if (!nibbles.every((n) => /^[0-9a-f]$/.test(n))) return undefined;
    return formatIp({ family: 6, value: BigInt('0x' + nibbles.join('')) });
  }
  return undefined;
}

export class DnsServer {
  private readonly timeoutMs: number;
  private readonly upstreams: Upstream[];
  private forwards = 0;
  private readonly connections = new Set<net.Socket>();
  private readonly exchanges = new Set<() => void>();
  private closed = false;

  private constructor(
    private readonly opts: DnsServerOptions,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
    readonly port: number,
  ) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    const self = parseIp(opts.address);
    this.upstreams = opts.upstreams.map((u) => {
      const p = parseUpstream(u);
      if (!p) throw new NetworkError('invalid', `invalid DNS upstream ${JSON.stringify(u)}: not an address or address:port`);
      return p;
    // relaying to itself would loop until every forward slot is taken
    }).filter((u) => !(self && u.host === formatIp(self) && u.port === port));
    udp.on('message', (msg, rinfo) => {
      this.handle(msg, 'udp')
        .then((resp) => {
          // send throws at once for some sources (port 0 of a crafted packet): never let that escape
          if (resp && !this.closed) udp.send(resp, rinfo.port, rinfo.address, () => {});
        })
        .catch(() => {});
    });
    tcp.on('connection', (sock) => this.serveTcp(sock));
  }

  static async start(opts: DnsServerOptions): Promise<DnsServer> {
    const ip = parseIp(opts.address);
    if (!ip) throw new NetworkError('invalid', `invalid DNS server address ${JSON.stringify(opts.address)}`);
    for (const u of opts.upstreams) {
      if (!parseUpstream(u)) throw new NetworkError('invalid', `invalid DNS upstream ${JSON.stringify(u)}: not an address or address:port`);
    }
    const address = formatIp(ip);
    const wanted = opts.port ?? 53;
    // with an ephemeral port, UDP picks it and TCP may find it taken: try a few
    for (let attempt = 0; ; attempt++) {
      const udp = dgram.createSocket({ type: ip.family === 6 ? 'udp6' : 'udp4' });
      udp.on('error', () => {});
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind({ port: wanted, address, exclusive: true }, () => {
            udp.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        udp.close();
        throw new NetworkError('system', `cannot serve DNS on ${address}:${wanted}/udp: ${(e as Error).message}`, { cause: e });
      }
      const port = udp.address().port;
      const tcp = net.createServer();
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ port, host: address, exclusive: true }, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        udp.close();
        if (wanted === 0 && attempt < 5 && (e as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
        throw new NetworkError('system', `cannot serve DNS on ${address}:${port}/tcp: ${(e as Error).message}`, { cause: e });
      }
      tcp.on('error', () => {});
      return new DnsServer(opts, udp, tcp, port);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.connections) s.destroy();
    for (const abort of this.exchanges) abort();
    await Promise.all([
      new Promise<void>((resolve) => this.udp.close(() => resolve())),
      new Promise<void>((resolve) => this.tcp.close(() => resolve())),
    ]);
  }

  private serveTcp(sock: net.Socket): void {
    if (this.closed || this.connections.size >= MAX_TCP_CONNECTIONS) {
      sock.destroy();
      return;
    }
    this.connections.add(sock);
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    sock.on('close', () => this.connections.delete(sock));
    sock.on('error', () => {});
    let buf: Buffer = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (len < HEADER_LEN) {
          // not a DNS message: nothing sensible can follow on this stream
          sock.destroy();
          return;
        }
        if (buf.length < 2 + len) return;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        this.handle(Buffer.from(msg), 'tcp')
          .then((resp) => {
            if (!resp || sock.destroyed) return;
            const framed = Buffer.alloc(2 + resp.length);
            framed.writeUInt16BE(resp.length);
            resp.copy(framed, 2);
            sock.write(framed);
          })
          .catch(() => {});
      }
    });
  }

  /** The response to one message; undefined to stay silent (a response sent to us, a header cut short). */
  private async handle(msg: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    if (msg.length >= 3 && (msg[2]! & 0x80) !== 0) return undefined;
    let q: Query;
    try {
      q = parseQuery(msg);
    } catch {
      return formErr(msg);
    }
    // EDNS clients get up to what our OPT record advertises
    const limit = transport === 'udp' ? Math.min(q.ednsSize ?? 512, MAX_MESSAGE) : 0xffff;
    if (q.header.opcode !== 0) return buildResponse(q, RCODE.NOTIMP, [], { limit });
    try {
      const local = this.local(q);
      if (local) return buildResponse(q, RCODE.NOERROR, local, { aa: true, limit });
    } catch {
      return buildResponse(q, RCODE.SERVFAIL, [], { limit });
    }
    return this.forward(msg, q, transport, limit);
  }

  /** Answers from the network's own names; undefined when the query is not about one of them. */
  private local(q: Query): Answer[] | undefined {
    const { type } = q.question;
    if (q.question.class !== CLASS_IN) return undefined;
    const name = nameText(q.question.labels);
    if (name === undefined || name === '') return undefined;
    if (type === TYPE.A || type === TYPE.AAAA) {
      const found = this.opts.resolve(name);
      if (!found) return undefined;
      const family = type === TYPE.A ? 4 : 6;
      const out: Answer[] = [];
      for (const a of type === TYPE.A ? found.v4 : found.v6) {
        const ip = parseIp(a);
        if (!ip || ip.family !== family) continue;
        const data = Buffer.alloc(family === 4 ? 4 : 16);
        let v = ip.value;
        for (let i = data.length - 1; i >= 0; i--, v >>= 8n) data[i] = Number(v & 0xffn);
        out.push({ type, ttl: TTL, data });
      }
      return out;
    }
    if (type === TYPE.PTR && this.opts.ptr) {
      const ip = ptrAddress(name);
      const target = ip && this.opts.ptr(ip);
      const data = target ? nameData(target) : undefined;
      return data ? [{ type, ttl: TTL, data }] : undefined;
    }
    return undefined;
  }

  private async forward(msg: Buffer, q: Query, transport: 'udp' | 'tcp', limit: number): Promise<Buffer | undefined> {
    if (this.forwards >= MAX_FORWARDS) return undefined;
    this.forwards++;
    try {
      for (const up of this.upstreams) {
        if (this.closed) return undefined;
        // a fresh id per exchange: an answer must match it (and the connected socket's source) to count
        const id = randomInt(0x10000);
        const out = Buffer.from(msg);
        out.writeUInt16BE(id, 0);
        const resp = await this.exchange(up, out, transport).catch(() => undefined);
        if (!resp || resp.length < HEADER_LEN || resp.readUInt16BE(0) !== id || (resp[2]! & 0x80) === 0) continue;
        resp.writeUInt16BE(q.header.id, 0);
        return resp;
      }
      return buildResponse(q, RCODE.SERVFAIL, [], { limit });
    } finally {
      this.forwards--;
    }
  }

  /** One query to one upstream, over the client's transport; rejects on error or timeout. */
  private exchange(up: Upstream, msg: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      let done = false;
      let cleanup = () => {};
      const finish = (err: Error | undefined, resp?: Buffer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.exchanges.delete(abort);
        cleanup();
        if (err) reject(err);
        else resolve(resp!);
      };
      const abort = () => finish(new Error('DNS server closed'));
      const timer = setTimeout(() => finish(new Error(`no answer from ${up.host}:${up.port} in ${this.timeoutMs} ms`)), this.timeoutMs);
      this.exchanges.add(abort);
      if (transport === 'udp') {
        const s = dgram.createSocket({ type: up.family === 6 ? 'udp6' : 'udp4' });
        cleanup = () => {
          try {
            s.close();
          } catch {
            // already closed after an error
          }
        };
        s.on('error', (e) => finish(e));
        s.on('message', (resp) => {
          if (resp.length >= 2 && resp.readUInt16BE(0) === msg.readUInt16BE(0)) finish(undefined, resp);
        });
        s.connect(up.port, up.host, (err?: Error) => {
          if (err) return finish(err);
          try {
            s.send(msg, (e) => e && finish(e));
          } catch (e) {
            finish(e as Error);
          }
        });
      } else {
        const s = net.connect({ port: up.port, host: up.host });
        cleanup = () => s.destroy();
        let buf: Buffer = Buffer.alloc(0);
        s.on('error', (e) => finish(e));
        s.on('close', () => finish(new Error(`${up.host}:${up.port} closed the connection`)));
        s.on('data', (chunk: Buffer) => {
          buf = Buffer.concat([buf, chunk]);
          if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) finish(undefined, Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0))));
        });
        const framed = Buffer.alloc(2 + msg.length);
        framed.writeUInt16BE(msg.length);
        msg.copy(framed, 2);
        s.write(framed);
      }
    });
  }
}
