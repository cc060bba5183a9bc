/**
 * The daemon's event bus (docker's daemon/events): every verb that changes a container or an
 * image publishes a message here; `GET /events` subscribers get them live, and a bounded ring of
 * the latest ones lets `--since` replay what happened before the client asked.
 *
 * Messages have docker 20.10's shape: Type, Action, Actor{ID, Attributes}, scope, time, timeNano,
 * and for containers and images the deprecated status/id(/from) fields old clients still read.
 */
import { InvalidParameterError } from './errors.ts';

/** docker 20.10 keeps this many events for replay (daemon/events eventsLimit) */
export const EVENTS_LIMIT = 256;

export type EventType = 'container' | 'image' | 'volume' | 'network' | 'daemon' | 'plugin' | 'node' | 'service' | 'secret' | 'config';

export interface EventMessage {
  status?: string;
  id?: string;
  from?: string;
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
}

export type EventListener = (e: EventMessage) => void;

/** Nanoseconds since the epoch, as a number (exact to a microsecond or so: what a double holds). */
function nowNano(): number {
  return Date.now() * 1e6 + Number(process.hrtime.bigint() % 1_000_000n);
}

export class EventBus {
  readonly #ring: EventMessage[] = [];
  readonly #listeners = new Set<EventListener>();

  constructor(readonly limit = EVENTS_LIMIT) {}

  /** Publishes an event (docker's Log). */
  log(type: EventType, action: string, actorId: string, attributes: Record<string, string> = {}): EventMessage {
    const timeNano = nowNano();
    const m: EventMessage = {
      ...(type === 'container' || type === 'image' ? { status: action, id: actorId } : {}),
      ...(type === 'container' && attributes.image !== undefined ? { from: attributes.image } : {}),
      Type: type, Action: action, Actor: { ID: actorId, Attributes: { ...attributes } }, scope: 'local',
      time: Math.floor(timeNano / 1e9), timeNano,
    };
    this.#ring.push(m);
    if (this.#ring.length > this.limit) this.#ring.shift();
    for (const l of this.#listeners) {
      try {
        l(m);
      } catch { /* a listener's failure is its own (a closed connection) */ }
    }
    return m;
  }

  /** The ring's events with since <= timeNano <= until (nanoseconds). */
  recent(sinceNano: number, untilNano = Infinity): EventMessage[] {
    return this.#ring.filter((e) => e.timeNano >= sinceNano && e.timeNano <= untilNano);
  }

  subscribe(l: EventListener): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  get listeners(): number {
    return this.#listeners.size;
  }
}

/**
 * docker's timestamp query values (`since`, `until`): seconds since the epoch with an optional
 * fraction of up to nine digits (`1700000000.123456789`), as the CLI sends them after turning
 * `10m` or an RFC 3339 time into one. Returns nanoseconds.
 */
export function parseEventTime(v: string | null, name: string): number | undefined {
  if (v === null || v === '') return undefined;
  const m = /^(-?\d+)(?:\.(\d{1,9}))?$/.exec(v.trim());
  if (!m) throw new InvalidParameterError(`invalid value for "${name}": ${JSON.stringify(v)}: want seconds since the epoch (e.g. 1700000000.5)`);
  return Number(m[1]) * 1e9 + Number((m[2] ?? '').padEnd(9, '0'));
}

const FILTER_KEYS = new Set(['config', 'container', 'daemon', 'event', 'image', 'label', 'network', 'node', 'plugin', 'scope', 'secret', 'service', 'type', 'volume']);
const TYPES = new Set<string>(['container', 'image', 'volume', 'network', 'daemon', 'plugin', 'node', 'service', 'secret', 'config']);

/** `busybox:latest` and `busybox` name the same image in a filter, as docker's stripTag does. */
function stripTag(image: string): string {
  if (image.includes('@')) return image.slice(0, image.indexOf('@'));
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? image.slice(0, colon) : image;
}

/** Checks the filter keys (docker's 400 for an unknown one) and returns the matcher. */
export function eventFilter(filters: Record<string, string[]>): (e: EventMessage) => boolean {
  for (const [k, vs] of Object.entries(filters)) {
    if (!FILTER_KEYS.has(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
    if (k === 'type') for (const v of vs) if (!TYPES.has(v)) throw new InvalidParameterError(`invalid filter 'type=${v}'`);
  }
  const f = filters;
  const any = (k: string, test: (v: string) => boolean): boolean => !f[k] || f[k]!.length === 0 || f[k]!.some(test);
  return (e) => {
    const attrs = e.Actor.Attributes;
    const actorIs = (t: EventType, v: string): boolean => e.Type === t && (e.Actor.ID === v || e.Actor.ID.startsWith(v) || attrs.name === v);
    if (!any('type', (v) => v === e.Type)) return false;
    // "health_status: healthy" matches event=health_status too
    if (!any('event', (v) => v === e.Action || v === e.Action.split(':')[0])) return false;
    if (!any('scope', (v) => v === e.scope)) return false;
    if (!any('container', (v) => actorIs('container', v))) return false;
    if (!any('volume', (v) => e.Type === 'volume' && e.Actor.ID === v)) return false;
    if (!any('network', (v) => e.Type === 'network' && (e.Actor.ID === v || attrs.name === v))) return false;
    if (!any('daemon', (v) => e.Type === 'daemon' && (e.Actor.ID === v || attrs.name === v))) return false;
    if (!any('plugin', (v) => e.Type === 'plugin' && (e.Actor.ID === v || attrs.name === v))) return false;
    for (const k of ['node', 'service', 'secret', 'config'] as const) if (!any(k, () => false)) return false;
    if (!any('image', (v) => {
      const want = stripTag(v);
      if (e.Type === 'image') return e.Actor.ID === v || stripTag(e.Actor.ID) === want || (attrs.name !== undefined && stripTag(attrs.name) === want);
      return attrs.image !== undefined && (attrs.image === v || stripTag(attrs.image) === want);
    })) return false;
    if (f.label) {
      for (const v of f.label) {
        const i = v.indexOf('=');
        if (i < 0 ? !(v in attrs) : attrs[v.slice(0, i)] !== v.slice(i + 1)) return false;
      }
    }
    return true;
  };
}
