// Debian's docker-compose 1.29 (a Python client of the Engine API, through docker-py) against
// berthd: a two-service project, `web` (busybox httpd on port 80, published on a free host port on
// 127.0.0.1, with a named volume) and `client` (reaches http://web/ by its service name on the
// project's network). up -d, ps, logs, exec and down -v behave as against dockerd, and down leaves
// no container, network, volume, veth or DNAT rule. Traffic goes only to 127.0.0.1 and to the
// project's containers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BerthdHarness } from '../fixtures/berthd.ts';
import { freePort, httpGet } from '../fixtures/net.ts';
import { runCommand, show, type CommandResult } from '../fixtures/busybox.ts';
import { waitFor } from '../fixtures/wait.ts';

const COMPOSE = '/usr/bin/docker-compose'; // Debian's 1.29, not a compose v2 plugin
const PROJECT = 'h10e';
const PAGE = 'hello-from-h10e-web';

const bd = new BerthdHarness({ prefix: 'h10e' });
let dir = '';
let file = '';
let hostPort = 0;
/** the project network's bridge and the host ends of its veths, seen while the project was up */
let projectBridge = '';
let projectSubnet = '';
let projectVeths: string[] = [];



const compose = (args: string[], timeoutMs = 120_000): Promise<CommandResult> =>
  runCommand(COMPOSE, ['-p', PROJECT, '-f', file, ...args], { env: bd.env(), timeoutMs, label: `docker-compose ${args.join(' ')}` });

const composeOk = async (args: string[]): Promise<string> => {
  const r = await compose(args);
  assert.equal(r.code, 0, `docker-compose ${args.join(' ')}\n${show(r)}\n--- berthd log ---\n${bd.log.slice(-3000)}`);
  return r.stdout;
};

/** names of the links whose master is `bridge` (none when it does not exist) */
async function linksOn(bridge: string): Promise<string[]> {
  const r = await runCommand('ip', ['-o', 'link', 'show', 'master', bridge]);
  if (r.code !== 0) return [];
  return r.stdout.split('\n').filter(Boolean).map((l) => l.split(': ')[1]!.split('@')[0]!);
}

// Both processes run under a shell that exits on SIGTERM, so that `down` stops them at once as a
// real service would (a bare httpd or sleep as pid 1 ignores SIGTERM and waits out the timeout).
const composeFile = (image: string, port: number): string => `version: "2.4"
services:
  web:
    image: ${image}
    command: ["sh", "-c", "mkdir -p /www && echo ${PAGE} > /www/index.html && trap 'kill $$p; exit 0' TERM; httpd -f -vv -p 80 -h /www & p=$$!; wait"]
    ports:
      - "127.0.0.1:${port}:80"
    volumes:
      - data:/data
  client:
    image: ${image}
    command: ["sh", "-c", "trap 'exit 0' TERM; until wget -qO- http://web/; do sleep 0.2; done; sleep 1000 & wait"]
    depends_on:
      - web
volumes:
  data: {}
`;

describe('docker-compose 1.29 against berthd', { timeout: 600_000 }, () => {
  before(async () => {
    await bd.setup();
    dir = mkdtempSync(join(tmpdir(), 'h10e-compose-'));
    file = join(dir, 'docker-compose.yml');
    hostPort = await freePort();
    writeFileSync(file, composeFile(bd.image, hostPort));
  });

  after(async () => {
    // a failed test must not leave the project behind
    if (file) await compose(['down', '-v', '-t', '1']).catch(() => undefined);
    await bd.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('up -d starts both services on the project network', async () => {
    const r = await compose(['up', '-d']);
    assert.equal(r.code, 0, `up -d\n${show(r)}\n--- berthd log ---\n${bd.log.slice(-3000)}`);
    for (const s of ['web', 'client']) bd.seen.add((await bd.inspect(`${PROJECT}_${s}_1`, '{{.Id}}')));
    const net = JSON.parse(await bd.dockerOk(['network', 'inspect', `${PROJECT}_default`])) as
      { Id: string; Driver: string; Labels: Record<string, string>; IPAM: { Config: { Subnet: string }[] } }[];
    assert.equal(net[0]!.Driver, 'bridge');
    assert.equal(net[0]!.Labels['com.docker.compose.project'], PROJECT);
    projectBridge = `br-${net[0]!.Id.slice(0, 12)}`;
    projectSubnet = net[0]!.IPAM.Config[0]!.Subnet;
    assert.match(projectSubnet, /^\d+\.\d+\.\d+\.\d+\/\d+$/);
    projectVeths = await linksOn(projectBridge);
    assert.equal(projectVeths.length, 2, `two veths on ${projectBridge}: ${projectVeths.join(' ')}`);
    assert.ok(projectVeths.every((v) => v.startsWith('vb')), projectVeths.join(' '));
  });

  it('ps lists both services Up', async () => {
    const out = await composeOk(['ps']);
    for (const s of ['web', 'client']) {
      const line = out.split('\n').find((l) => l.startsWith(`${PROJECT}_${s}_1 `));
      assert.ok(line, `${PROJECT}_${s}_1 in:\n${out}`);
      assert.match(line, /\bUp\b/, line);
    }
    assert.match(out, new RegExp(`127\\.0\\.0\\.1:${hostPort}->80/tcp`), out);
  });

  it('the host gets the page on 127.0.0.1:HOSTPORT', async () => {
    const body = await waitFor('the published port to answer', () => httpGet(`http://127.0.0.1:${hostPort}/`).catch(() => undefined), 15_000, () => bd.log.slice(-2000), 100);
    assert.equal(body.trim(), PAGE);
  });

  it('logs: the client got the page from http://web/, httpd logged the requests', async () => {
    const client = await waitFor('the client to fetch the page', async () => {
      const out = await composeOk(['logs', '--no-color', 'client']);
      return out.includes(PAGE) && out;
    }, 30_000, () => bd.log.slice(-2000), 250);
    assert.match(client, new RegExp(`^client_1 +\\| ${PAGE}$`, 'm'), client);
    const web = await composeOk(['logs', '--no-color', 'web']);
    // busybox httpd -vv logs each request as `[ADDRESS]:PORT: url:/`
    assert.match(web, /^web_1 +\| .*: url:\/$/m, web);
  });

  it('exec -T client wget -qO- http://web/ prints the page', async () => {
    const out = await composeOk(['exec', '-T', 'client', 'wget', '-qO-', 'http://web/']);
    assert.equal(out.trim(), PAGE);
  });

  it('down -v removes the containers, the network, the volume, the veths and the port rule', async () => {
    const r = await compose(['down', '-v']);
    assert.equal(r.code, 0, `down -v\n${show(r)}\n--- berthd log ---\n${bd.log.slice(-3000)}`);
    assert.equal((await bd.dockerOk(['ps', '-aq'])).trim(), '', 'no container left');
    assert.deepEqual((await bd.dockerOk(['network', 'ls', '--format', '{{.Name}}'])).trim().split('\n').sort(), ['bridge', 'host', 'none']);
    assert.equal((await bd.dockerOk(['volume', 'ls', '-q'])).trim(), '', 'no volume left');
    assert.ok(projectBridge, 'the project network was seen');
    assert.equal((await runCommand('ip', ['link', 'show', projectBridge])).code !== 0, true, `${projectBridge} is gone`);
    const links = (await runCommand('ip', ['-o', 'link', 'show'])).stdout;
    for (const v of projectVeths) assert.ok(!links.includes(` ${v}@`) && !links.includes(` ${v}:`), `veth ${v} is gone`);
    // with no network in use berthd's table is gone altogether; if another is in use, nothing of the project's is in it
    const nft = await runCommand('nft', ['list', 'table', 'inet', bd.table]);
    assert.ok(nft.code === 0 || /No such file or directory/.test(nft.stderr), show(nft));
    // the ports' DNAT lives in map elements or in rules of their own: neither may name the port,
    // and the project network's masquerade went with it
    assert.doesNotMatch(nft.stdout, /\belements = /, nft.stdout);
    assert.doesNotMatch(nft.stdout, new RegExp(`\\b${hostPort}\\b`), nft.stdout);
    assert.ok(!nft.stdout.includes(projectSubnet) && !nft.stdout.includes(projectBridge), nft.stdout);
  });
});
