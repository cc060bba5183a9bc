// Two things a container's own network namespace and its volumes owe docker's users, through
// berthd as Debian's docker CLI 20.10 drives it:
// - name resolution: --add-host (ExtraHosts, host-gateway), --dns, --dns-search, --dns-option, -h/--domainname,
//   written into the container's /etc/hosts and /etc/resolv.conf as dockerd 20.10 writes them,
//   shown by inspect as given, refused as docker refuses them (with --network container:NAME, a
//   malformed entry from a raw API client);
// - docker cp into and out of named volumes and bind mounts, running and stopped, a :ro one
//   refused, and a symlink in a volume or bind mount to /etc reaching the container's /etc,
//   never the host's, in both directions.
// What users see is asserted (files as `docker exec cat` shows them, docker's messages and exit
// codes, the host's files untouched); nothing is left behind (no container, volume, mount,
// cgroup or process).
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BerthdHarness } from '../fixtures/berthd.ts';
import { show } from '../fixtures/busybox.ts';

const bd = new BerthdHarness({ prefix: 'h10g' });
const { docker, dockerOk, runDetached, inspect, http } = bd;
let IMG = '';

const DEFAULT_HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';

/** the host's resolv.conf a namespace of the container's own starts from (systemd-resolved's stub means its upstream file, as docker's) */
function hostResolvConf(): string {
  const etc = readFileSync('/etc/resolv.conf', 'utf8');
  const ns = etc.split('\n').map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter(Boolean);
  return ns.length === 1 && ns[0] === '127.0.0.53' && existsSync('/run/systemd/resolve/resolv.conf') ? readFileSync('/run/systemd/resolve/resolv.conf', 'utf8') : etc;
}
const hostNameservers = (): string[] => hostResolvConf().split('\n').map((l) => /^\s*nameserver\s+(\S+)\s*$/.exec(l.split('#')[0]!)?.[1]).filter((x): x is string => x !== undefined);
const hostOptions = (): string[] => {
  let out: string[] = [];
  for (const l of hostResolvConf().split('\n')) {
    const m = /^\s*options(\s.*)?$/.exec(l.split('#')[0]!);
    if (m) out = (m[1] ?? '').split(/\s+/).filter(Boolean);
  }
  return out;
};

/** `docker exec CTR cat PATH`: the file as the container sees it */
async function catIn(ctr: string, path: string): Promise<string> {
  return dockerOk(['exec', ctr, 'cat', path]);
}

/** the containers berthd has now (to see that a refused create made none) */
async function containerCount(): Promise<number> {
  return (await dockerOk(['ps', '-aq'])).split('\n').filter(Boolean).length;
}

describe('berthd: --add-host, --dns*, hostnames in /etc files; docker cp through volumes and bind mounts', { timeout: 300_000 }, () => {
  before(async () => {
    await bd.setup();
    IMG = bd.image;
  });

  after(() => bd.teardown(() => {
    bd.checkClean();
    const vols = join(bd.data, 'volumes');
    assert.deepEqual(existsSync(vols) ? readdirSync(vols).filter((v) => v.startsWith('h10g')) : [], [], 'volumes left behind');
  }));

  it('--add-host, --dns, --dns-search, --dns-option, -h and --domainname: /etc/hosts and /etc/resolv.conf as docker writes them; inspect shows them as given', async () => {
    const flags = ['--add-host', 'db.h10g:10.1.2.3', '--add-host', 'v6.h10g:fd00::1', '--dns', '10.0.0.1', '--dns', '10.0.0.2',
      '--dns-search', 'example.com', '--dns-search', 'corp.example', '--dns-option', 'ndots:2', '--dns-option', 'timeout:1', '-h', 'myhost', '--domainname', 'example.org'];
    const r = await docker(['run', '--rm', ...flags, IMG, 'sh', '-c', 'cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; hostname; cat /proc/sys/kernel/domainname; cat /etc/hostname']);
    assert.equal(r.code, 0, show(r));
    const [hosts, resolv, names] = r.stdout.split('---\n');
    // docker's loopback records, the entries in order, then the container's address on the bridge naming its FQDN and its name
    assert.ok(hosts!.startsWith(`${DEFAULT_HOSTS}10.1.2.3\tdb.h10g\nfd00::1\tv6.h10g\n`), hosts);
    assert.match(hosts!.slice(`${DEFAULT_HOSTS}10.1.2.3\tdb.h10g\nfd00::1\tv6.h10g\n`.length), /^\d+\.\d+\.\d+\.\d+\tmyhost\.example\.org myhost\n$/);
    assert.equal(resolv, 'search example.com corp.example\nnameserver 10.0.0.1\nnameserver 10.0.0.2\noptions ndots:2 timeout:1\n');
    assert.equal(names, 'myhost\nexample.org\nmyhost\n');

    // inspect: as given; a container without them shows docker's defaults
    const id = (await dockerOk(['create', '--name', 'h10g-dns', ...flags, IMG, 'true'])).trim();
    bd.seen.add(id);
    const hc = JSON.parse(await inspect(id, '{{json .HostConfig}}')) as Record<string, unknown>;
    assert.deepEqual(hc.ExtraHosts, ['db.h10g:10.1.2.3', 'v6.h10g:fd00::1']);
    assert.deepEqual(hc.Dns, ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(hc.DnsSearch, ['example.com', 'corp.example']);
    assert.deepEqual(hc.DnsOptions, ['ndots:2', 'timeout:1']);
    assert.equal(await inspect(id, '{{.Config.Domainname}}'), 'example.org');
    const plain = (await dockerOk(['create', IMG, 'true'])).trim();
    bd.seen.add(plain);
    const phc = JSON.parse(await inspect(plain, '{{json .HostConfig}}')) as Record<string, unknown>;
    assert.deepEqual([phc.ExtraHosts, phc.Dns, phc.DnsSearch, phc.DnsOptions], [null, [], [], []]);
    await dockerOk(['rm', id, plain]);
  });

  it('one of --dns, --dns-search, --dns-option alone keeps the host\'s other lines; --dns-search . writes none; without them, the host\'s file', async () => {
    const ns = hostNameservers().map((n) => `nameserver ${n}\n`).join('');
    const opts = hostOptions().length > 0 ? `options ${hostOptions().join(' ')}\n` : '';
    const search = await docker(['run', '--rm', '--dns-search', 'only.example', IMG, 'cat', '/etc/resolv.conf']);
    assert.equal(search.code, 0, show(search));
    assert.equal(search.stdout, `search only.example\n${ns}${opts}`);
    const dot = await docker(['run', '--rm', '--dns-search', '.', '--dns', '10.9.9.9', IMG, 'cat', '/etc/resolv.conf']);
    assert.equal(dot.stdout, `nameserver 10.9.9.9\n${opts}`, show(dot));
    const opt = await docker(['run', '--rm', '--dns-option', 'rotate', IMG, 'cat', '/etc/resolv.conf']);
    assert.match(opt.stdout, /^(search .*\n)?(nameserver .*\n)*options rotate\n$/, show(opt));
    // and /etc/hosts is docker's loopback records and the container's address; with --network none, the records only
    const hosts = await docker(['run', '--rm', '-h', 'alone', IMG, 'cat', '/etc/hosts']);
    assert.ok(hosts.stdout.startsWith(DEFAULT_HOSTS), show(hosts));
    assert.match(hosts.stdout.slice(DEFAULT_HOSTS.length), /^\d+\.\d+\.\d+\.\d+\talone\n$/);
    const none = await docker(['run', '--rm', '--network', 'none', '-h', 'alone', IMG, 'cat', '/etc/hosts']);
    assert.equal(none.stdout, DEFAULT_HOSTS, show(none));
  });

  it('--network host: the host\'s files; with --add-host, docker\'s records and the entries (not the host\'s file); with --dns, a rebuilt resolv.conf', async () => {
    const hostHosts = readFileSync('/etc/hosts', 'utf8');
    const hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
    const plain = await docker(['run', '--rm', '--network', 'host', IMG, 'sh', '-c', 'cat /etc/hosts; echo ---; cat /etc/resolv.conf']);
    assert.equal(plain.code, 0, show(plain));
    assert.equal(plain.stdout, `${hostHosts}---\n${hostResolv}`);
    const added = await docker(['run', '--rm', '--network', 'host', '--add-host', 'localhost:10.3.3.3', '--dns', '10.4.4.4', IMG, 'sh', '-c', 'cat /etc/hosts; echo ---; cat /etc/resolv.conf']);
    assert.equal(added.code, 0, show(added));
    const [hosts, resolv] = added.stdout.split('---\n');
    assert.equal(hosts, `${DEFAULT_HOSTS}10.3.3.3\tlocalhost\n`);
    assert.match(resolv!, /^(search .*\n)?nameserver 10\.4\.4\.4\n(options .*\n)?$/);
    assert.equal(readFileSync('/etc/hosts', 'utf8'), hostHosts, 'the host\'s /etc/hosts untouched');
    assert.equal(readFileSync('/etc/resolv.conf', 'utf8'), hostResolv, 'the host\'s /etc/resolv.conf untouched');
  });

  it('--network container:NAME refuses --dns, --add-host and -h with docker\'s messages; --dns-search is ignored there, as docker\'s', async () => {
    const a = await runDetached(['--name', 'h10g-neta', '--dns', '10.5.5.5', '--add-host', 'peer.h10g:10.6.6.6', IMG, 'sleep', '1000']);
    for (const [flag, msg] of [[['--dns', '10.0.0.1'], 'conflicting options: dns and the network mode'],
      [['--add-host', 'x:10.0.0.1'], 'conflicting options: custom host-to-IP mapping and the network mode'],
      [['-h', 'x'], 'conflicting options: hostname and the network mode']] as const) {
      const r = await docker(['run', '--rm', '--network', 'container:h10g-neta', ...flag, IMG, 'true']);
      assert.equal(r.code, 125, show(r));
      assert.equal(r.stderr, `docker: Error response from daemon: ${msg}.\nSee 'docker run --help'.\n`);
    }
    const shared = await docker(['run', '--rm', '--network', 'container:h10g-neta', '--dns-search', 'ignored.example', IMG, 'sh', '-c', 'cat /etc/hosts; echo ---; cat /etc/resolv.conf']);
    assert.equal(shared.code, 0, show(shared));
    assert.equal(shared.stdout, `${await catIn(a, '/etc/hosts')}---\n${await catIn(a, '/etc/resolv.conf')}`);
    assert.match(shared.stdout, /10\.6\.6\.6\tpeer\.h10g\n/);
    await dockerOk(['rm', '-f', a]);
  });

  it('malformed entries: the CLI\'s messages; from a raw API client, a 400 naming the entry, and no container; host-gateway is the bridge\'s address', async () => {
    const bad = await docker(['run', '--rm', '--add-host', 'bad', IMG, 'true']);
    assert.equal(bad.code, 125, show(bad));
    assert.match(bad.stderr, /^invalid argument "bad" for "--add-host" flag: bad format for add-host: "bad"\n/);
    const gw = await docker(['run', '--rm', '--add-host', 'gw.h10g:host-gateway', IMG, 'grep', 'gw.h10g', '/etc/hosts']);
    assert.equal(gw.code, 0, show(gw));
    const bridgeGw = (await dockerOk(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'bridge'])).trim();
    assert.equal(gw.stdout, `${bridgeGw}\tgw.h10g\n`);

    const before = await containerCount();
    const create = (hc: Record<string, unknown>): ReturnType<typeof http> => http('POST', '/v1.41/containers/create', JSON.stringify({ Image: IMG, Cmd: ['true'], HostConfig: hc }));
    const cases: [Record<string, unknown>, string][] = [
      [{ ExtraHosts: ['ok:10.0.0.1', 'bad'] }, 'bad format for add-host: "bad" (HostConfig.ExtraHosts[1]: want NAME:IP)'],
      [{ ExtraHosts: [':10.0.0.1'] }, 'bad format for add-host: ":10.0.0.1" (HostConfig.ExtraHosts[0]: want NAME:IP)'],
      [{ ExtraHosts: ['h:not-an-ip'] }, 'invalid IP address in add-host: "not-an-ip" (HostConfig.ExtraHosts[0])'],
      [{ ExtraHosts: ['h\n6.6.6.6 evil:10.0.0.1'] }, 'bad format for add-host: "h\\n6.6.6.6 evil:10.0.0.1" (HostConfig.ExtraHosts[0]: the name holds a control character)'],
      [{ Dns: ['10.0.0.1', 'resolver'] }, 'HostConfig.Dns[1]: "resolver" is not an ip address'],
      [{ DnsSearch: ['-bad-'] }, 'HostConfig.DnsSearch[0]: "-bad-" is not a valid domain'],
      [{ DnsOptions: ['ndots:1\nnameserver 6.6.6.6'] }, 'HostConfig.DnsOptions[0]: "ndots:1\\nnameserver 6.6.6.6" holds a control character'],
      [{ ExtraHosts: 'h:10.0.0.1' }, 'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.ExtraHosts of type []string'],
    ];
    for (const [hc, message] of cases) {
      const r = await create(hc);
      assert.equal(r.status, 400, `${JSON.stringify(hc)}: ${r.body}`);
      assert.deepEqual(JSON.parse(r.body), { message });
    }
    assert.equal(await containerCount(), before, 'no container made by a refused create');
  });

  it('docker cp into and out of a named volume, running and stopped; a :ro volume refuses', async () => {
    const id = await runDetached(['--name', 'h10g-cpvol', '-v', 'h10g-vol:/data', '-v', 'h10g-volro:/ro:ro', IMG, 'sh', '-c', 'echo in-volume > /data/made-inside; exec sleep 1000']);
    const dataDir = (await dockerOk(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'h10g-vol'])).trim();
    const work = join(bd.dir, 'cpvol');
    mkdirSync(join(work, 'tree', 'sub'), { recursive: true });
    writeFileSync(join(work, 'file'), 'from the host\n');
    writeFileSync(join(work, 'tree', 'sub', 'leaf'), 'leaf\n');

    // in: a file and a directory; the container sees them, and they are in the volume
    await dockerOk(['cp', join(work, 'file'), 'h10g-cpvol:/data/']);
    await dockerOk(['cp', join(work, 'tree'), 'h10g-cpvol:/data/tree']);
    assert.equal(await catIn(id, '/data/file'), 'from the host\n');
    assert.equal(await catIn(id, '/data/tree/sub/leaf'), 'leaf\n');
    assert.equal(readFileSync(join(dataDir, 'file'), 'utf8'), 'from the host\n');
    // not into the root filesystem beneath the volume
    assert.equal(existsSync(join(bd.data, 'containers', id, 'bundle', '.berth', 'upper', 'data', 'file')), false, 'written beneath the volume');
    // out: a file the container wrote, and the volume's root as a directory
    await dockerOk(['cp', 'h10g-cpvol:/data/made-inside', join(work, 'out-file')]);
    assert.equal(readFileSync(join(work, 'out-file'), 'utf8'), 'in-volume\n');
    await dockerOk(['cp', 'h10g-cpvol:/data', join(work, 'out-dir')]);
    assert.equal(readFileSync(join(work, 'out-dir', 'tree', 'sub', 'leaf'), 'utf8'), 'leaf\n');

    // :ro: docker's message, nothing written
    const ro = await docker(['cp', join(work, 'file'), 'h10g-cpvol:/ro/']);
    assert.equal(ro.code, 1, show(ro));
    assert.equal(ro.stderr, 'Error response from daemon: mounted volume is marked read-only\n');
    const roData = (await dockerOk(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'h10g-volro'])).trim();
    assert.equal(existsSync(join(roData, 'file')), false);

    // stopped: in and out still reach the volume; started again, the container sees it
    await dockerOk(['stop', '-t', '0', id]);
    writeFileSync(join(work, 'while-stopped'), 'stopped\n');
    await dockerOk(['cp', join(work, 'while-stopped'), 'h10g-cpvol:/data/']);
    await dockerOk(['cp', 'h10g-cpvol:/data/file', join(work, 'out-stopped')]);
    assert.equal(readFileSync(join(work, 'out-stopped'), 'utf8'), 'from the host\n');
    assert.equal(readFileSync(join(dataDir, 'while-stopped'), 'utf8'), 'stopped\n');
    const ro2 = await docker(['cp', join(work, 'file'), 'h10g-cpvol:/ro/']);
    assert.equal(ro2.code, 1, show(ro2));
    assert.match(ro2.stderr, /mounted volume is marked read-only/);
    await dockerOk(['start', id]);
    assert.equal(await catIn(id, '/data/while-stopped'), 'stopped\n');

    // a container created, never started: its volume is there for cp already
    const fresh = (await dockerOk(['create', '-v', 'h10g-vol:/v', IMG, 'true'])).trim();
    bd.seen.add(fresh);
    await dockerOk(['cp', `${fresh}:/v/file`, join(work, 'out-fresh')]);
    assert.equal(readFileSync(join(work, 'out-fresh'), 'utf8'), 'from the host\n');
    await dockerOk(['rm', '-f', id, fresh]);
    await dockerOk(['volume', 'rm', 'h10g-vol', 'h10g-volro']);
  });

  it('a symlink to /etc in a volume or a bind mount reaches the container\'s /etc, never the host\'s, copying in and out', async () => {
    const bind = join(bd.dir, 'bind-sym');
    mkdirSync(bind);
    // made on the host side of the bind: the link's text is resolved in the container, as docker's
    symlinkSync('/etc', join(bind, 'evil'));
    symlinkSync('../../../../../../../../etc', join(bind, 'rel'));
    const id = await runDetached(['--name', 'h10g-cpsym', '-v', 'h10g-symvol:/data', '-v', `${bind}:/mnt/b`, IMG, 'sh', '-c',
      'echo h10g-container-passwd > /etc/passwd; ln -s /etc /data/evil; ln -s ../../../../../etc /data/rel; exec sleep 1000']);
    await (async () => {
      for (let i = 0; i < 100; i++) {
        if ((await docker(['exec', id, 'test', '-L', '/data/rel'])).code === 0) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.fail('the container made no links');
    })();
    const hostPasswd = readFileSync('/etc/passwd', 'utf8');
    const work = join(bd.dir, 'cpsym');
    mkdirSync(work);
    const name = `h10g-marker-${process.pid}`;
    writeFileSync(join(work, name), 'into the container\n');

    for (const dir of ['/data/evil', '/data/rel', '/mnt/b/evil', '/mnt/b/rel']) {
      // out: the container's /etc/passwd
      const out = join(work, `passwd-${dir.replaceAll('/', '_')}`);
      await dockerOk(['cp', `h10g-cpsym:${dir}/passwd`, out]);
      assert.equal(readFileSync(out, 'utf8'), 'h10g-container-passwd\n', `${dir}/passwd`);
      // in: lands in the container's /etc, not the host's
      await dockerOk(['cp', join(work, name), `h10g-cpsym:${dir}/`]);
      assert.equal(existsSync(join('/etc', name)), false, `${dir}: nothing written to the host's /etc`);
      assert.equal(await catIn(id, `/etc/${name}`), 'into the container\n');
      await dockerOk(['exec', id, 'rm', `/etc/${name}`]);
    }
    // the link itself is copied out as a link (its text as it is), as docker's
    await dockerOk(['cp', 'h10g-cpsym:/data/evil', join(work, 'link-out')]);
    assert.ok(lstatSync(join(work, 'link-out')).isSymbolicLink());
    assert.equal(readlinkSync(join(work, 'link-out')), '/etc');
    assert.equal(readFileSync('/etc/passwd', 'utf8'), hostPasswd, 'the host\'s /etc/passwd untouched');
    await dockerOk(['rm', '-f', id]);
    await dockerOk(['volume', 'rm', 'h10g-symvol']);
  });
});
