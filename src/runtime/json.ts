/**
 * JSON with exact integers. The OCI config has int64 and uint64 fields (memory limits, rlimits,
 * seccomp argument values) whose values JSON.parse rounds to the nearest double above 2^53:
 * 18446744073709551614 would become 2^64, and range checks on the rounded value let 2^64 through.
 * parseExact keeps every integer literal beyond Number.MAX_SAFE_INTEGER as a bigint, so the
 * validator can check the range and the runtime can use the value the user wrote.
 * stringifyExact writes such bigints back as JSON numbers (state.json keeps the spec).
 */
import { randomBytes } from 'node:crypto';

export class JsonSyntaxError extends Error {
  constructor(readonly position: number) {
    super(`invalid JSON at position ${position}`);
  }
}

/**
 * A literal with a fraction whose nearest double is a whole number (9007199254740993.5 rounds to
 * 9007199254740994): kept apart so that an integer field refuses it instead of taking the
 * rounded value. The config has no fractional fields.
 */
export class InexactNumber {
  constructor(readonly literal: string) {}
  toJSON(): number {
    return Number(this.literal);
  }
  toString(): string {
    return this.literal;
  }
}

/** Literals with more digits than this are not made into bigints (1e999999 would be huge); no field holds one. */
const MAX_DIGITS = 400;

/**
 * The exact value of an integer-valued number literal as a bigint when it is beyond the safe
 * integers; otherwise what JSON.parse gives (a double). A huge or fractional literal stays a
 * double: no integer field accepts it, and the validator says so.
 */
export function numberLiteral(lit: string): number | bigint | InexactNumber {
  const n = Number(lit);
  if (Number.isSafeInteger(n) && /^-?\d+$/.test(lit)) return n;
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(lit);
  if (!m) return n;
  const [, sign, int, frac = '', expText = '0'] = m;
  const exp = Number(expText);
  let digits = (int! + frac).replace(/^0+(?=\d)/, '');
  let scale = exp - frac.length;
  // trailing zeros of the mantissa move into the exponent, so 1.50e1 and 15 agree
  while (scale < 0 && digits.length > 1 && digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    scale++;
  }
  if (/^0+$/.test(digits)) return sign ? -0 : 0;
  if (scale < 0) return Number.isInteger(n) ? new InexactNumber(lit) : n;
  if (digits.length + scale > MAX_DIGITS) return n;
  const b = BigInt(digits) * 10n ** BigInt(scale);
  const v = sign ? -b : b;
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * Whether every number literal of `text` is one JSON.parse reads exactly: none has 16 digits or
 * more, nor an exponent (1e20 is an integer beyond 2^53). Strings are blanked first, so that
 * digits and letters in them (hex IDs, paths) do not count.
 */
function plainNumbers(text: string): boolean {
  return !/\d{16}|\d[eE]/.test(text.replace(/"(?:[^"\\]|\\.)*"/g, '""'));
}

/**
 * JSON.parse, except that integers beyond 2^53 are bigints (see numberLiteral). A text without
 * such literals goes to JSON.parse itself: a daemon reads specs and states (the default seccomp
 * profile makes them large) on every start, and the literal-by-literal parser holds its event
 * loop ten times longer.
 */
export function parseExact(text: string): unknown {
  if (plainNumbers(text)) {
    try {
      return JSON.parse(text);
    } catch { /* the parser below says where */ }
  }
  return parseExactSlow(text);
}

function parseExactSlow(text: string): unknown {
  let i = 0;
  const s = text;
  const stop = (): never => {
    throw new JsonSyntaxError(i);
  };
  const ws = () => {
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else return;
    }
  };
  const string = (): string => {
    // one JSON string literal, decoded by JSON.parse itself
    const start = i;
    i++;
    for (;;) {
      if (i >= s.length) stop();
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) stop();
      i += c === 0x5c ? 2 : 1;
    }
    i++;
    try {
      return JSON.parse(s.slice(start, i)) as string;
    } catch {
      return stop();
    }
  };
  const number = (): number | bigint | InexactNumber => {
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    m.lastIndex = i;
    const r = m.exec(s);
    if (!r) stop();
    i += r![0].length;
    return numberLiteral(r![0]);
  };
  const literal = (word: string, v: unknown): unknown => {
    // the error is at the first character that differs (`tru}` points at the `}`)
    for (const c of word) {
      if (s[i] !== c) stop();
      i++;
    }
    return v;
  };
  const value = (): unknown => {
    ws();
    const c = s[i];
    if (c === '{') {
      i++;
      const o: Record<string, unknown> = {};
      ws();
      if (s[i] === '}') {
        i++;
        return o;
      }
      for (;;) {
        ws();
        if (s[i] !== '"') stop();
        const k = string();
        ws();
        if (s[i] !== ':') stop();
        i++;
        // an own property even for "__proto__", as JSON.parse makes it
        Object.defineProperty(o, k, { value: value(), enumerable: true, writable: true, configurable: true });
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === '}') {
          i++;
          return o;
        }
        stop();
      }
    }
    if (c === '[') {
      i++;
      const a: unknown[] = [];
      ws();
      if (s[i] === ']') {
        i++;
        return a;
      }
      for (;;) {
        a.push(value());
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === ']') {
          i++;
          return a;
        }
        stop();
      }
    }
    if (c === '"') return string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    if (c === 't') return literal('true', true);
    if (c === 'f') return literal('false', false);
    if (c === 'n') return literal('null', null);
    return stop();
  };
  const v = value();
  ws();
  if (i < s.length) stop();
  return v;
}

/** JSON.stringify that writes bigints as JSON numbers (exactly) instead of throwing. */
export function stringifyExact(value: unknown, space?: string | number): string {
  const big: string[] = [];
  // a nonce, so that a string that happens to look like a marker is left alone
  const tag = randomBytes(6).toString('hex');
  const text = JSON.stringify(
    value,
    (_k, v: unknown) => {
      if (typeof v !== 'bigint') return v;
      big.push(v.toString());
      return `\u0001${tag}:${big.length - 1}\u0001`;
    },
    space,
  );
  if (big.length === 0) return text;
  return text.replace(new RegExp(`"\\\\u0001${tag}:(\\d+)\\\\u0001"`, 'g'), (_m, n: string) => big[Number(n)]!);
}
