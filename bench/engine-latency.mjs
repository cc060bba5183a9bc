// The API's answer time while berthd is busy: N parallel `docker run --rm IMAGE true` through the
// docker CLI, and meanwhile GET /containers/json?all=1, one request at a time every 50 ms, as a
// client would. Prints one line: "TOTAL_MS POLLS MEDIAN_MS P90_MS MAX_MS FAILED_RUNS".
//   node bench/engine-latency.mjs SOCKET IMAGE DOCKER_BIN N
import { spawn } from 'node:child_process';
import { request } from 'node:http';

const [socket, image, dockerBin, nArg] = process.argv.slice(2);
const n = Number(nArg ?? 50);

function get() {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request({ socketPath: socket, path: '/v1.41/containers/json?all=1', method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

function run() {
  return new Promise((resolve) => {
    const p = spawn(dockerBin, ['-H', `unix://${socket}`, 'run', '--rm', '--network', 'none', image, 'true'], { stdio: 'ignore' });
    p.on('exit', (code) => resolve(code === 0));
    p.on('error', () => resolve(false));
  });
}

const t0 = performance.now();
let done = 0;
const runs = Array.from({ length: n }, () => run().finally(() => done++));
const ms = [];
while (done < n) {
  ms.push(await get());
  await new Promise((r) => setTimeout(r, 50));
}
const ok = await Promise.all(runs);
const total = performance.now() - t0;
ms.sort((a, b) => a - b);
const at = (q) => (ms.length ? ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] : NaN);
console.log([total, ms.length, at(0.5), at(0.9), ms.at(-1) ?? NaN].map((x) => (Number.isInteger(x) ? x : x.toFixed(1))).join(' ') + ` ${ok.filter((x) => !x).length}`);
