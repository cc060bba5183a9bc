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
