// berth's DNS server as a real resolver client sees it: busybox nslookup (which only speaks to
// port 53) against servers bound on private loopback addresses, as root.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

import { DnsServer } from '../../src/network/dns/server.ts';

const run = promisify(execFile);
const FRONT = '127.0.10.1';
const UPSTREAM = '127.0.10.2';
const servers: DnsServer[] = [];

async function nslookup(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run('busybox', ['nslookup', ...args], { timeout: 10_000 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, out: `${x.stdout ?? ''}${x.stderr ?? ''}` };
  }
}

const skip = process.getuid?.() !== 0 ? 'binding port 53 needs root' : false;

before(async () => {
  if (skip) return;
  servers.push(await DnsServer.start({ address: UPSTREAM, upstreams: [], resolve: (n) => (n === 'far.t10b' ? { v4: ['10.10.10.10'], v6: [] } : undefined) }));
  servers.push(
    await DnsServer.start({
      address: FRONT,
      upstreams: [UPSTREAM],
      resolve: (n) => ({ 'web.t10b': { v4: ['172.30.9.2'], v6: ['fd00:9::2'] }, 'db.t10b': { v4: ['172.30.9.3'], v6: [] } })[n],
      ptr: (ip) => (ip === '172.30.9.2' ? 'web.t10b' : undefined),
      timeoutMs: 500,
    }),
  );
});
after(async () => {
  for (const s of servers) await s.close();
});

test('busybox nslookup resolves names, types, PTR and forwarded names through the server on port 53', { skip }, async () => {
  assert.equal(servers[1]!.port, 53);
  const a = await nslookup('web.t10b', FRONT);
  assert.equal(a.code, 0, a.out);
  assert.match(a.out, /Address: 172\.30\.9\.2/);
  assert.match(a.out, /Address: fd00:9::2/);
  const aaaa = await nslookup('-type=aaaa', 'db.t10b', FRONT);
  assert.equal(aaaa.code, 0, aaaa.out);
  assert.doesNotMatch(aaaa.out, /172\.30\.9\.3|can't find/, 'a known name without AAAA: no answer, no error');
  const ptr = await nslookup('172.30.9.2', FRONT);
  assert.match(ptr.out, /name = web\.t10b/);
  const far = await nslookup('far.t10b', FRONT);
  assert.match(far.out, /Address: 10\.10\.10\.10/);
  const unknown = await nslookup('nothing.t10b', FRONT);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.out, /SERVFAIL/);
});

test('a query from source port 0 (crafted with a raw socket) does not bring the server down', { skip }, async () => {
  const s = await DnsServer.start({ address: '127.0.10.3', port: 0, upstreams: [], resolve: (n) => (n === 'web' ? { v4: ['172.30.9.2'], v6: [] } : undefined) });
  servers.push(s);
  // the UDP header by hand: source port 0, checksum 0 (none, allowed on IPv4)
  const py = `
import socket, struct, sys
port = int(sys.argv[1])
q = struct.pack('>HHHHHH', 0x4242, 0x0100, 1, 0, 0, 0) + b'\\x03web\\x00' + struct.pack('>HH', 1, 1)
udp = struct.pack('>HHHH', 0, port, 8 + len(q), 0) + q
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
r.sendto(udp, ('127.0.10.3', 0))
`;
  await run('python3', ['-c', py, String(s.port)]);
  await new Promise((r) => setTimeout(r, 200));
  const a = await askWebFrom103(s.port);
  assert.match(a, /172\.30\.9\.2/);
});

/** One A query for "web" to 127.0.10.3:port from an ordinary socket: the server is still up. */
async function askWebFrom103(port: number): Promise<string> {
  const py = `
import socket, struct, sys
q = struct.pack('>HHHHHH', 7, 0x0100, 1, 0, 0, 0) + b'\\x03web\\x00' + struct.pack('>HH', 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.sendto(q, ('127.0.10.3', int(sys.argv[1])))
d = s.recv(512)
print('.'.join(str(b) for b in d[-4:]))
`;
  return (await run('python3', ['-c', py, String(port)])).stdout;
}
