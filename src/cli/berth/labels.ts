/** Labels on the command line (`--label k=v`) and in ls rows, as docker's network and volume verbs treat them. */
import { FlagValueError } from './command.ts';

/** docker 20.10.24's ValidateLabel: a key, without blanks, before any `=` (blanks are docker's whiteSpaces: space and tab only) */
export function checkLabel(v: string): void {
  const key = v.split('=')[0]!.replace(/^[ \t]+/, '');
  if (key === '') throw new FlagValueError(v, '--label', `invalid label '${v}': empty name`);
  if (/[ \t]/.test(key)) throw new FlagValueError(v, '--label', `label '${key}' contains whitespaces`);
}

/** An ls row's LABELS: docker joins a Go map, in no set order; sorted here, so that the output is stable. */
export function labelsText(labels: Record<string, string> | null | undefined): string {
  return Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join(',');
}
