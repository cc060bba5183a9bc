// A Docker Engine API client for bench/engine-run.sh's measurement 3: berthd's container start
// from the engine's own clocks. Started once per data location (so no client start-up lands in
// a round), it reads one line per round on stdin and for each: POST /containers/create, POST
// /containers/{id}/start at once on the same kept-alive connection (as the docker CLI does),
// POST /containers/{id}/wait, GET /containers/{id}/explain, DELETE /containers/{id}?force=1; then
// prints one line: `ok CREATE_TO_EXEC_US START_TO_EXEC_US CREATE_US` from explain's `startup`, or
// `error MESSAGE`.
//   node engine-start-client.mjs SOCKET IMAGE
import http from 'node:http';
import { createInterface } from 'node:readline';

const [socketPath, image] = process.argv.slice(2);
if (!socketPath || !image) {
  process.stderr.write('usage: node engine-start-client.mjs SOCKET IMAGE\n');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request({
      socketPath, agent, method, path: `/v1.41${path}`,
      headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {},
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text.trim()}`));
        else resolve(text ? JSON.parse(text) : null);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function round() {
  const { Id: id } = await call('POST', '/containers/create', { Image: image, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
  try {
    await call('POST', `/containers/${id}/start`);
    await call('POST', `/containers/${id}/wait`);
    const ex = await call('GET', `/containers/${id}/explain`);
    const s = ex.startup ?? {};
    const us = [s.createToExecMs, s.startToExecMs, s.createMs].map((v) => (typeof v === 'number' ? Math.round(v * 1000) : null));
    if (us.includes(null)) throw new Error(`explain ${id}: no timings in ${JSON.stringify(s)}`);
    return `ok ${us.join(' ')}`;
  } finally {
    await call('DELETE', `/containers/${id}?force=1`).catch(() => {});
  }
}

for await (const _ of createInterface({ input: process.stdin })) {
  const line = await round().catch((e) => `error ${String(e.message).replace(/\s+/g, ' ')}`);
  process.stdout.write(`${line}\n`);
}
agent.destroy();
