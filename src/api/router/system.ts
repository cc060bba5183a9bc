/**
 * System routes: `/_ping` (GET, HEAD), `/version`, `/info`, `POST /auth`, in docker's shapes
 * (SystemVersion, SystemInfo of API v1.41) with berth's real values.
 */
import { readdir } from 'node:fs/promises';

import type { Engine } from '../../engine/engine.ts';
import { InvalidParameterError } from '../../engine/errors.ts';
import { goArch } from '../../engine/system.ts';
import { BERTH_VERSION, BUILD_TIME, GIT_COMMIT } from '../../engine/version.ts';
import { credentialsOf, type AuthConfig } from '../auth.ts';
import { readJsonObject, sendJson } from '../http.ts';
import type { Router, RouteContext } from '../router.ts';
import type { SystemInfo, SystemVersion } from '../types.ts';
import { API_VERSION, MIN_API_VERSION } from '../version.ts';


function ping(c: RouteContext): void {
  const body = c.req.method === 'HEAD' ? '' : 'OK';
  c.res.writeHead(200, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
  });
  c.res.end(body);
}

export function versionOf(engine: Engine): SystemVersion {
  const details = {
    ApiVersion: API_VERSION,
    Arch: goArch(),
    BuildTime: BUILD_TIME,
    Experimental: 'false',
    GitCommit: GIT_COMMIT,
    GoVersion: `node ${process.version}`,
    KernelVersion: engine.host.kernelVersion,
    MinAPIVersion: MIN_API_VERSION,
    Os: 'linux',
  };
  return {
    Platform: { Name: 'berth' },
    Components: [{ Name: 'Engine', Version: BERTH_VERSION, Details: details }],
    Version: BERTH_VERSION,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: GIT_COMMIT,
    GoVersion: `node ${process.version}`,
    Os: 'linux',
    Arch: goArch(),
    KernelVersion: engine.host.kernelVersion,
    BuildTime: BUILD_TIME,
  };
}

async function openFds(): Promise<number> {
  try {
    return (await readdir('/proc/self/fd')).length;
  } catch {
    return 0;
  }
}

export async function infoOf(engine: Engine): Promise<SystemInfo> {
  const [counts, images, nfd] = await Promise.all([engine.containers.counts(), engine.images.count(), openFds()]);
  const h = engine.host;
  const cfg = engine.config;
  const has = (c: string): boolean => h.controllers.has(c);
  const runtimes = engine.containers.ctx.runtimes.list();
  const indexConfigs: SystemInfo['RegistryConfig']['IndexConfigs'] = {
    'docker.io': { Name: 'docker.io', Mirrors: [], Secure: true, Official: true },
  };
  for (const r of cfg.insecureRegistries) indexConfigs[r] = { Name: r, Mirrors: [], Secure: false, Official: false };
  const warnings: string[] = [];
  if (!has('memory')) warnings.push('WARNING: No memory limit support');
  if (!has('pids')) warnings.push('WARNING: No pids limit support');
  const env = process.env;
  return {
    ID: engine.id,
    Containers: counts.total,
    ContainersRunning: counts.running,
    ContainersPaused: counts.paused,
    ContainersStopped: counts.stopped,
    Images: images,
    Driver: 'overlay',
    DriverStatus: [['Backing Filesystem', h.backingFilesystem], ['Snapshots', `${cfg.dataRoot}/snapshot`]],
    DockerRootDir: cfg.dataRoot,
    Plugins: { Volume: ['local'], Network: ['host', 'none'], Authorization: null, Log: ['json-file'] },
    MemoryLimit: has('memory'),
    SwapLimit: has('memory'),
    KernelMemory: false,
    KernelMemoryTCP: false,
    CpuCfsPeriod: has('cpu'),
    CpuCfsQuota: has('cpu'),
    CPUShares: has('cpu'),
    CPUSet: has('cpuset'),
    PidsLimit: has('pids'),
    OomKillDisable: h.cgroupVersion === '1' && has('memory'),
    IPv4Forwarding: h.ipv4Forwarding,
    BridgeNfIptables: h.bridgeNfIptables,
    BridgeNfIp6tables: h.bridgeNfIp6tables,
    Debug: cfg.debug,
    NFd: nfd,
    NGoroutines: process.getActiveResourcesInfo().length,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: h.cgroupVersion,
    NEventsListener: engine.events.listeners,
    KernelVersion: h.kernelVersion,
    OperatingSystem: h.operatingSystem,
    OSVersion: h.osVersion,
    OSType: 'linux',
    Architecture: h.architecture,
    NCPU: h.ncpu,
    MemTotal: h.memTotal,
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: {
      AllowNondistributableArtifactsCIDRs: [],
      AllowNondistributableArtifactsHostnames: [],
      InsecureRegistryCIDRs: ['127.0.0.0/8'],
      IndexConfigs: indexConfigs,
      Mirrors: [],
    },
    GenericResources: null,
    HttpProxy: env.HTTP_PROXY ?? env.http_proxy ?? '',
    HttpsProxy: env.HTTPS_PROXY ?? env.https_proxy ?? '',
    NoProxy: env.NO_PROXY ?? env.no_proxy ?? '',
    Name: h.hostname,
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: BERTH_VERSION,
    Runtimes: runtimes,
    DefaultRuntime: cfg.defaultRuntime,
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: true,
    Isolation: '',
    InitBinary: 'tini-static',
    ContainerdCommit: { ID: '', Expected: '' },
    RuncCommit: { ID: GIT_COMMIT, Expected: GIT_COMMIT },
    InitCommit: { ID: '', Expected: '' },
    SecurityOptions: ['name=seccomp,profile=default', ...(h.cgroupVersion === '2' ? ['name=cgroupns'] : [])],
    Warnings: warnings.length > 0 ? warnings : null,
  };
}

async function auth(c: RouteContext, engine: Engine): Promise<void> {
  const body = (await readJsonObject(c.req)) as AuthConfig;
  for (const k of ['username', 'password', 'serveraddress', 'identitytoken', 'auth'] as const) {
    if (body[k] !== undefined && typeof body[k] !== 'string') throw new InvalidParameterError(`malformed JSON request body: "${k}": want a string`);
  }
  const creds = credentialsOf(body);
  if (!creds) throw new InvalidParameterError('POST /auth: no credentials: want "username" and "password" (or "identitytoken")');
  const r = await engine.images.login(body.serveraddress ?? '', creds);
  sendJson(c.res, 200, { Status: 'Login Succeeded', IdentityToken: r.identityToken ?? '' });
}

export function systemRoutes(r: Router, engine: Engine): void {
  r.get('/_ping', ping);
  r.head('/_ping', ping);
  r.get('/version', (c) => sendJson(c.res, 200, versionOf(engine)));
  r.get('/info', async (c) => sendJson(c.res, 200, await infoOf(engine)));
  r.post('/auth', (c) => auth(c, engine));
}
