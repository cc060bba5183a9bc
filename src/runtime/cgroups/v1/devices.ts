/**
 * v1 devices controller: devices.allow / devices.deny, "TYPE MAJ:MIN ACCESS" with * for a
 * wildcard (a missing or -1 major/minor). The rules are the ones resources.ts hands over (the
 * config's, in config order, then runc's default list).
 *
 * The kernel keeps a default (allow or deny) plus exceptions, and devices.list shows the
 * exceptions only in deny mode. A new cgroup inherits its parent's allow-all, so it is set up
 * as "a" to devices.deny, then the rules in config order. A cgroup that is already deny-by-default
 * (an `update` of a running container) gets only the difference, additions first, so /dev/null
 * is never denied for an instant while the rules change.
 */
import type { Controller } from '../controller.ts';
import type { DeviceCgroupRule, Resources } from '../../spec/types.ts';
import { read, write } from '../files.ts';

const ACCESS_ORDER = 'rwm';

function normAccess(access: string | undefined): string {
  const a = access || 'rwm';
  return [...ACCESS_ORDER].filter((c) => a.includes(c)).join('');
}

function num(n: number | undefined): string {
  return n === undefined || n < 0 ? '*' : String(n);
}

/** The rule as the kernel reads it: "a" for every device, else "c 1:3 rwm". */
export function formatRule(r: DeviceCgroupRule): string {
  const type = r.type ?? 'a';
  if (type === 'a') return 'a';
  return `${type} ${num(r.major)}:${num(r.minor)} ${normAccess(r.access)}`;
}

/** The kernel's view: a default and exceptions keyed "c 1:3" with their access letters. */
export interface DeviceState {
  defaultAllow: boolean;
  exceptions: Map<string, string>;
}

/** devices.list: "a *:* rwm" alone means allow-by-default (its exceptions are not shown). */
export function parseDeviceList(text: string): DeviceState {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.some((l) => l.startsWith('a '))) return { defaultAllow: true, exceptions: new Map() };
  const exceptions = new Map<string, string>();
  for (const l of lines) {
    const [type, mm, access] = l.split(' ');
    if (type && mm && access) exceptions.set(`${type} ${mm}`, normAccess(access));
  }
  return { defaultAllow: false, exceptions };
}

/** What the kernel ends up with after writing `rules` in order to a deny-all cgroup. */
export function emulate(rules: readonly DeviceCgroupRule[], start: DeviceState = { defaultAllow: false, exceptions: new Map() }): DeviceState {
  const s: DeviceState = { defaultAllow: start.defaultAllow, exceptions: new Map(start.exceptions) };
  for (const r of rules) {
    if ((r.type ?? 'a') === 'a') {
      s.defaultAllow = r.allow;
      s.exceptions.clear();
      continue;
    }
    const key = `${r.type} ${num(r.major)}:${num(r.minor)}`;
    const access = normAccess(r.access);
    const cur = s.exceptions.get(key) ?? '';
    // an exception is the opposite of the default: a rule of the default's kind removes access from it
    const merged = r.allow === s.defaultAllow ? [...cur].filter((c) => !access.includes(c)).join('') : normAccess(cur + access);
    if (merged) s.exceptions.set(key, merged);
    else s.exceptions.delete(key);
  }
  return s;
}

/** The writes, as [file, line], that take the cgroup from `current` to the effect of `rules`. */
export function deviceWrites(current: DeviceState, rules: readonly DeviceCgroupRule[]): [string, string][] {
  const target = emulate(rules);
  const out: [string, string][] = [];
  if (target.defaultAllow) {
    // allow-all first (never a transient denial), then the exceptions
    out.push(['devices.allow', 'a']);
    for (const [key, access] of target.exceptions) out.push(['devices.deny', `${key} ${access}`]);
    return out;
  }
  if (current.defaultAllow) {
    // a new cgroup: deny everything, then the rules exactly as configured, in config order
    out.push(['devices.deny', 'a']);
    const rest = (rules[0]?.type ?? 'a') === 'a' && !rules[0]!.allow ? rules.slice(1) : rules;
    for (const r of rest) out.push([r.allow ? 'devices.allow' : 'devices.deny', formatRule(r)]);
    return out;
  }
  // deny-by-default already: grant what is new, then take away what is gone
  for (const [key, access] of target.exceptions) {
    const have = current.exceptions.get(key) ?? '';
    const add = [...access].filter((c) => !have.includes(c)).join('');
    if (add) out.push(['devices.allow', `${key} ${add}`]);
  }
  for (const [key, have] of current.exceptions) {
    const keep = target.exceptions.get(key) ?? '';
    const drop = [...have].filter((c) => !keep.includes(c)).join('');
    if (drop) out.push(['devices.deny', `${key} ${drop}`]);
  }
  return out;
}

function apply(dir: string, res: Resources): string[] {
  const rules = res.devices;
  if (!rules) return [];
  const list = read(dir, 'devices.list');
  if (list === undefined) throw new Error('devices.list: cannot be read');
  for (const [file, line] of deviceWrites(parseDeviceList(list), rules)) write(dir, file, line);
  return [];
}

export const devices: Controller = { name: 'devices', apply };
