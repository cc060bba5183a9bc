/**
 * The request bodies of the network endpoints, decoded as dockerd's JSON decoder would (unknown
 * fields ignored, null is the zero value) but with a 400 naming the JSON path of a field of the
 * wrong type, instead of Go's "cannot unmarshal number into Go struct field ...".
 */
import { InvalidParameterError } from '../errors.ts';
import type { EndpointSettingsRequest, IpamConfig, NetworkCreateRequest } from './types.ts';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function bad(path: string, want: string, v: unknown): never {
  throw new InvalidParameterError(`malformed JSON request body: "${path}": want ${want}, got ${kind(v)}`);
}

function str(o: Obj, k: string, path: string): string {
  const v = o[k];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') bad(`${path}${k}`, 'a string', v);
  return v;
}

function bool(o: Obj, k: string, path: string): boolean {
  const v = o[k];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') bad(`${path}${k}`, 'a boolean', v);
  return v;
}

function obj(o: Obj, k: string, path: string): Obj | null {
  const v = o[k];
  if (v === undefined || v === null) return null;
  if (!isObj(v)) bad(`${path}${k}`, 'an object', v);
  return v;
}

function stringMap(o: Obj, k: string, path: string): Record<string, string> | null {
  const m = obj(o, k, path);
  if (m === null) return null;
  for (const [key, v] of Object.entries(m)) if (typeof v !== 'string') bad(`${path}${k}.${key}`, 'a string', v);
  return { ...(m as Record<string, string>) };
}

function strings(o: Obj, k: string, path: string): string[] | null {
  const v = o[k];
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) bad(`${path}${k}`, 'an array of strings', v);
  v.forEach((x, i) => { if (typeof x !== 'string') bad(`${path}${k}[${i}]`, 'a string', x); });
  return [...(v as string[])];
}

function int(o: Obj, k: string, path: string): number {
  const v = o[k];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v)) bad(`${path}${k}`, 'an integer', v);
  return v;
}

function ipamConfig(v: unknown, path: string): IpamConfig {
  if (!isObj(v)) bad(path, 'an object', v);
  const p = `${path}.`;
  const c: IpamConfig = {};
  for (const k of ['Subnet', 'IPRange', 'Gateway'] as const) {
    const s = str(v, k, p);
    if (s !== '') c[k] = s;
  }
  const aux = stringMap(v, 'AuxiliaryAddresses', p);
  if (aux && Object.keys(aux).length > 0) c.AuxiliaryAddresses = aux;
  return c;
}

/** `POST /networks/create`'s body (types.NetworkCreateRequest). */
export function decodeCreateRequest(body: unknown): NetworkCreateRequest {
  if (body === undefined || body === null) throw new InvalidParameterError('got EOF while reading request body');
  if (!isObj(body)) bad('(root)', 'an object', body);
  const ipam = obj(body, 'IPAM', '');
  let IPAM: NetworkCreateRequest['IPAM'] = null;
  if (ipam) {
    const cfg = ipam.Config;
    if (cfg !== undefined && cfg !== null && !Array.isArray(cfg)) bad('IPAM.Config', 'an array', cfg);
    IPAM = {
      Driver: str(ipam, 'Driver', 'IPAM.'),
      Config: ((cfg ?? []) as unknown[]).map((c, i) => ipamConfig(c, `IPAM.Config[${i}]`)),
      Options: stringMap(ipam, 'Options', 'IPAM.'),
    };
  }
  const from = obj(body, 'ConfigFrom', '');
  return {
    Name: str(body, 'Name', ''),
    CheckDuplicate: bool(body, 'CheckDuplicate', ''),
    Driver: str(body, 'Driver', ''),
    Scope: str(body, 'Scope', ''),
    EnableIPv6: bool(body, 'EnableIPv6', ''),
    IPAM,
    Internal: bool(body, 'Internal', ''),
    Attachable: bool(body, 'Attachable', ''),
    Ingress: bool(body, 'Ingress', ''),
    ConfigOnly: bool(body, 'ConfigOnly', ''),
    ConfigFrom: from ? { Network: str(from, 'Network', 'ConfigFrom.') } : null,
    Options: stringMap(body, 'Options', '') ?? {},
    Labels: stringMap(body, 'Labels', '') ?? {},
  };
}

/** docker's network.EndpointSettings (a connect's EndpointConfig), at `path` in the body. */
export function decodeEndpointSettings(v: unknown, path: string): EndpointSettingsRequest {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) bad(path, 'an object', v);
  const p = `${path}.`;
  const out: EndpointSettingsRequest = {};
  const ipam = obj(v, 'IPAMConfig', p);
  if (ipam) {
    const ip = `${p}IPAMConfig.`;
    out.IPAMConfig = {};
    const v4 = str(ipam, 'IPv4Address', ip);
    const v6 = str(ipam, 'IPv6Address', ip);
    const ll = strings(ipam, 'LinkLocalIPs', ip);
    if (v4 !== '') out.IPAMConfig.IPv4Address = v4;
    if (v6 !== '') out.IPAMConfig.IPv6Address = v6;
    if (ll) out.IPAMConfig.LinkLocalIPs = ll;
  }
  for (const k of ['Links', 'Aliases'] as const) {
    const s = strings(v, k, p);
    if (s) out[k] = s;
  }
  for (const k of ['NetworkID', 'EndpointID', 'Gateway', 'IPAddress', 'IPv6Gateway', 'GlobalIPv6Address', 'MacAddress'] as const) {
    const s = str(v, k, p);
    if (s !== '') out[k] = s;
  }
  for (const k of ['IPPrefixLen', 'GlobalIPv6PrefixLen'] as const) {
    const n = int(v, k, p);
    if (n !== 0) out[k] = n;
  }
  const opts = stringMap(v, 'DriverOpts', p);
  if (opts) out.DriverOpts = opts;
  return out;
}

/** `POST /networks/{id}/connect`'s body (types.NetworkConnect). */
export function decodeConnect(body: unknown): { Container: string; EndpointConfig: EndpointSettingsRequest } {
  if (body === undefined || body === null) throw new InvalidParameterError('got EOF while reading request body');
  if (!isObj(body)) bad('(root)', 'an object', body);
  return { Container: str(body, 'Container', ''), EndpointConfig: decodeEndpointSettings(body.EndpointConfig, 'EndpointConfig') };
}

/** `POST /networks/{id}/disconnect`'s body (types.NetworkDisconnect). */
export function decodeDisconnect(body: unknown): { Container: string; Force: boolean } {
  if (body === undefined || body === null) throw new InvalidParameterError('got EOF while reading request body');
  if (!isObj(body)) bad('(root)', 'an object', body);
  return { Container: str(body, 'Container', ''), Force: bool(body, 'Force', '') };
}
