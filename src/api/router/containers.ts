/**
 * Container routes of the Engine API v1.41: create, start, stop, restart, kill, wait, remove,
 * list, inspect, logs, attach (hijacked), resize, rename, pause, unpause, top, prune. Decode the
 * request, call the engine's container verbs, encode docker's answer.
 */
import type { Engine } from '../../engine/engine.ts';
import { InvalidParameterError } from '../../engine/errors.ts';
import { parseDetachKeys } from '../../engine/containers/detach-keys.ts';
import { parseSignal } from '../../engine/containers/kill.ts';
import { parseLogTime, parseTail } from '../../engine/containers/logs.ts';
import type { DockerConfig, HostConfig, NetworkingConfig } from '../../engine/containers/types.ts';
import { checkHostConfigTypes } from '../hostconfig-types.ts';
import { parseCondition } from '../../engine/containers/wait.ts';
import { queryBool, queryFilters, readJsonObject, sendEmpty, sendJson } from '../http.ts';
import type { HijackContext, Router } from '../router.ts';
import { MULTIPLEXED_STREAM, RAW_STREAM, hijack, stdFrame } from '../stream.ts';

function queryInt(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw new InvalidParameterError(`invalid value for "${name}": ${JSON.stringify(v)}: want an integer`);
  return Number(v);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The create body: docker's Config at the top level, HostConfig and NetworkingConfig beside it. */
function createBody(body: Record<string, unknown>): { config: DockerConfig; hostConfig: HostConfig; networkingConfig?: NetworkingConfig } {
  const { HostConfig: hc, NetworkingConfig: net, ...config } = body;
  if (hc !== undefined && hc !== null && !isObj(hc)) throw new InvalidParameterError('HostConfig: want a JSON object');
  if (isObj(hc)) checkHostConfigTypes(hc);
  for (const k of ['Cmd', 'Entrypoint', 'Env'] as const) {
    const v = config[k];
    if (v === undefined || v === null) continue;
    // docker's strslice.StrSlice: a lone string is a one-word command (`"Cmd": "true"`); Env is a plain []string
    if (typeof v === 'string' && k !== 'Env') config[k] = [v];
    else if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new InvalidParameterError(`${k}: want ${k === 'Env' ? 'an array of strings' : 'a string or an array of strings'}`);
  }
  if (config.Labels !== undefined && config.Labels !== null && (!isObj(config.Labels) || Object.values(config.Labels).some((x) => typeof x !== 'string'))) {
    throw new InvalidParameterError('Labels: want an object of strings');
  }
  return { config: config as DockerConfig, hostConfig: (hc ?? {}) as HostConfig, ...(net !== undefined && net !== null && { networkingConfig: networkingConfig(net) }) };
}

/** NetworkingConfig: {EndpointsConfig: {NETWORK: {IPAMConfig: {IPv4Address, IPv6Address}, Aliases, MacAddress}}} */
function networkingConfig(v: unknown): NetworkingConfig {
  if (!isObj(v)) throw new InvalidParameterError('NetworkingConfig: want a JSON object');
  const eps = v.EndpointsConfig;
  if (eps === undefined || eps === null) return {};
  if (!isObj(eps)) throw new InvalidParameterError('NetworkingConfig.EndpointsConfig: want a JSON object');
  for (const [name, ep] of Object.entries(eps)) {
    const at = `NetworkingConfig.EndpointsConfig[${JSON.stringify(name)}]`;
    if (ep === null) continue;
    if (!isObj(ep)) throw new InvalidParameterError(`${at}: want a JSON object`);
    if (ep.Aliases !== undefined && ep.Aliases !== null && (!Array.isArray(ep.Aliases) || ep.Aliases.some((a) => typeof a !== 'string'))) throw new InvalidParameterError(`${at}.Aliases: want an array of strings`);
    const ipam = ep.IPAMConfig;
    if (ipam !== undefined && ipam !== null) {
      if (!isObj(ipam)) throw new InvalidParameterError(`${at}.IPAMConfig: want a JSON object`);
      for (const k of ['IPv4Address', 'IPv6Address']) if (ipam[k] !== undefined && ipam[k] !== null && typeof ipam[k] !== 'string') throw new InvalidParameterError(`${at}.IPAMConfig.${k}: want a string`);
    }
  }
  return { EndpointsConfig: eps as NetworkingConfig['EndpointsConfig'] };
}

async function attachHijack(c: HijackContext, engine: Engine): Promise<void> {
  const { id, tty } = engine.containers.attachable(c.params.id!);
  const q = c.query;
  const detachKeys = q.get('detachKeys') ?? '';
  parseDetachKeys(detachKeys); // a bad notation is a 400 before the connection is taken over
  const o = { stdin: queryBool(q, 'stdin'), stdout: queryBool(q, 'stdout'), stderr: queryBool(q, 'stderr'), detachKeys };
  const sock = hijack(c.socket, c.head, tty ? RAW_STREAM : MULTIPLEXED_STREAM);
  const frame = (stream: 1 | 2, d: Buffer): Buffer => (tty ? d : stdFrame(stream, d));
  if (queryBool(q, 'logs')) {
    await engine.containers.logs(id, { stdout: o.stdout, stderr: o.stderr, follow: false, timestamps: false }, (e) => {
      sock.write(frame(e.stream === 'stderr' ? 2 : 1, Buffer.from(e.log)));
    }, () => sock.destroyed);
  }
  if (!queryBool(q, 'stream')) {
    sock.end();
    return;
  }
  await engine.containers.attach(id, sock, { ...o, frame });
}

export function containerRoutes(r: Router, engine: Engine): void {
  const ctr = engine.containers;
  r.get('/containers/json', (c) => {
    const limit = queryInt(c.query, 'limit');
    sendJson(c.res, 200, ctr.list({ all: queryBool(c.query, 'all'), ...(limit !== undefined && { limit }), size: queryBool(c.query, 'size'), filters: queryFilters(c.query) }));
  });
  r.post('/containers/create', async (c) => {
    const body = await readJsonObject(c.req);
    const name = c.query.get('name') ?? '';
    const { config, hostConfig, networkingConfig: net } = createBody(body);
    sendJson(c.res, 201, await ctr.create({ ...(name !== '' && { name }), config, hostConfig, ...(net && { networkingConfig: net }) }));
  });
  r.post('/containers/prune', async (c) => sendJson(c.res, 200, await ctr.prune(queryFilters(c.query))));
  r.get('/containers/{id}/json', (c) => sendJson(c.res, 200, ctr.inspect(c.params.id!)));
  r.get('/containers/{id}/top', async (c) => sendJson(c.res, 200, await ctr.top(c.params.id!, c.query.get('ps_args') ?? '')));
  r.get('/containers/{id}/logs', async (c) => {
    const q = c.query;
    const stdout = queryBool(q, 'stdout');
    const stderr = queryBool(q, 'stderr');
    if (!stdout && !stderr) throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
    const since = parseLogTime(q.get('since'), 'since');
    const until = parseLogTime(q.get('until'), 'until');
    const tail = parseTail(q.get('tail'));
    const timestamps = queryBool(q, 'timestamps');
    const { tty } = { tty: !!(ctr.inspect(c.params.id!).Config as { Tty?: boolean }).Tty };
    c.res.writeHead(200, { 'Content-Type': tty ? RAW_STREAM : MULTIPLEXED_STREAM });
    c.res.flushHeaders();
    let closed = false;
    c.res.once('close', () => (closed = true));
    await ctr.logs(c.params.id!, {
      stdout, stderr, follow: queryBool(q, 'follow'), timestamps,
      ...(since !== undefined && { since }), ...(until !== undefined && { until }), ...(tail !== undefined && { tail }),
    }, (e, isTty) => {
      const text = Buffer.from(timestamps ? `${e.time} ${e.log}` : e.log);
      if (!closed) c.res.write(isTty ? text : stdFrame(e.stream === 'stderr' ? 2 : 1, text));
    }, () => closed);
    c.res.end();
  });
  r.post('/containers/{id}/start', async (c) => {
    c.req.resume();
    await ctr.start(c.params.id!);
    sendEmpty(c.res, 204);
  });
  r.post('/containers/{id}/stop', async (c) => {
    await ctr.stop(c.params.id!, queryInt(c.query, 't'));
    sendEmpty(c.res, 204);
  });
  r.post('/containers/{id}/restart', async (c) => {
    await ctr.restart(c.params.id!, queryInt(c.query, 't'));
    sendEmpty(c.res, 204);
  });
  r.post('/containers/{id}/kill', async (c) => {
    await ctr.kill(c.params.id!, parseSignal(c.query.get('signal') || 'SIGKILL'));
    sendEmpty(c.res, 204);
  });
  r.post('/containers/{id}/wait', async (c) => {
    const condition = parseCondition(c.query.get('condition'));
    const done = ctr.wait(c.params.id!, condition);
    // an unknown container is a 404 before the 200 goes out
    const early = await Promise.race([done.then(() => true, () => true), new Promise<boolean>((r) => setImmediate(() => r(false)))]);
    if (!early) {
      c.res.writeHead(200, { 'Content-Type': 'application/json' });
      c.res.flushHeaders();
    }
    const r = await done;
    const body = { StatusCode: r.exitCode, Error: r.error !== undefined ? { Message: r.error } : null };
    if (!c.res.headersSent) sendJson(c.res, 200, body);
    else c.res.end(`${JSON.stringify(body)}\n`);
  });
  r.post('/containers/{id}/attach', () => {
    throw new InvalidParameterError('attach: send the request with "Upgrade: tcp" (a hijacked connection)');
  }, { hijack: (c) => attachHijack(c, engine) });
  r.post('/containers/{id}/resize', (c) => {
    const h = queryInt(c.query, 'h') ?? 0;
    const w = queryInt(c.query, 'w') ?? 0;
    ctr.resize(c.params.id!, h, w);
    sendEmpty(c.res, 200);
  });
  r.post('/containers/{id}/rename', async (c) => {
    await ctr.rename(c.params.id!, c.query.get('name') ?? '');
    sendEmpty(c.res, 204);
  });
  r.post('/containers/{id}/pause', async (c) => {
    await ctr.pause(c.params.id!);
    sendEmpty(c.res, 204);
  });
  r.post('/containers/{id}/unpause', async (c) => {
    await ctr.unpause(c.params.id!);
    sendEmpty(c.res, 204);
  });
  r.delete('/containers/{id}', async (c) => {
    await ctr.remove(c.params.id!, { force: queryBool(c.query, 'force'), volumes: queryBool(c.query, 'v') });
    sendEmpty(c.res, 204);
  });
}
