/**
 * Sizes and durations as docker prints them (github.com/docker/go-units): decimal units
 * (`4.26MB`, `1.23kB`), Go's %g with a precision (so `999999` bytes is `1e+03kB`, as docker shows
 * it too), and "About an hour" style durations ("… ago" in the CREATED columns).
 */
import { goFloat } from './format.ts';

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** go-units HumanSizeWithPrecision: `size` bytes in decimal units with `precision` significant digits. */
export function humanSizeWithPrecision(size: number, precision: number): string {
  let s = size;
  let i = 0;
  while (s >= 1000 && i < DECIMAL_UNITS.length - 1) {
    s /= 1000;
    i++;
  }
  return `${goFloat(s, precision)}${DECIMAL_UNITS[i]}`;
}

/** go-units HumanSize (4 significant digits): `Total reclaimed space: 1.235MB`. */
export const humanSize = (size: number): string => humanSizeWithPrecision(size, 4);

/** go-units HumanDuration of `ms` milliseconds. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

/** docker's CREATED column: "2 minutes ago", or "N/A" for an image without a creation time. */
export function createdSince(unixSeconds: number, now = Date.now()): string {
  if (!unixSeconds) return 'N/A';
  return `${humanDuration(now - unixSeconds * 1000)} ago`;
}

/** Go's time.Time.String() in local time: `2024-05-19 20:19:03 +0000 UTC` (docker's CreatedAt). */
export function goTimeString(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const zone = off === 0 ? 'UTC' : (new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((x) => x.type === 'timeZoneName')?.value ?? '');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${sign}${p(Math.trunc(Math.abs(off) / 60))}${p(Math.abs(off) % 60)} ${zone}`;
}

/** docker's stringutils.Ellipsis: at most `max` characters, the last one `…` when cut. */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  return `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}
