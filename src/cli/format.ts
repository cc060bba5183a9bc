/**
 * `--format` as docker's CLI takes it: a Go text/template subset, executed on plain JS values
 * (the Docker API shapes, or a row object of the command's columns), plus docker's `table`
 * prefix (a header row made by running the template on the column headers, columns aligned by a
 * Go tabwriter with docker's settings) and its `\t` / `\n` escapes.
 *
 * Supported: text, `{{/* comments *\/}}`, `{{-` / `-}}` trimming, fields and chains (`.A.B`,
 * `$x.A`, `(pipeline).A`), `$` and variables (`$v := …`, `range $i, $v := …`), string / raw
 * string / number / bool / nil literals, pipelines with `|`, `if` / `else if` / `else`, `range`
 * (arrays, objects by sorted key) with `else`, `with` with `else`, and the functions docker
 * templates use: json, index, len, join, split, lower, upper, title, pad, truncate, print,
 * printf, println, eq, ne, lt, le, gt, ge, and, or, not.
 *
 * Values print as Go's fmt %v prints decoded JSON: arrays `[a b]`, objects `map[k:v]` (sorted),
 * integers in full, a missing key `<no value>`.
 */

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

// ---------------------------------------------------------------- lexing

type Tok =
  | { t: 'field'; names: string[] } // `.` is names = []
  | { t: 'var'; name: string; names: string[] }
  | { t: 'ident'; name: string }
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'lparen' } | { t: 'rparen'; names: string[] }
  | { t: 'pipe' } | { t: 'decl' } | { t: 'assign' } | { t: 'comma' };

function lexAction(src: string, line: number): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new TemplateError(`template: :${line}: ${why}`);
  };
  const fieldChain = (): string[] => {
    const names: string[] = [];
    while (src[i] === '.' && /[A-Za-z_]/.test(src[i + 1] ?? '')) {
      i++;
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      names.push(m[0]);
      i += m[0].length;
    }
    return names;
  };
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '.') {
      if (/[A-Za-z_]/.test(src[i + 1] ?? '')) out.push({ t: 'field', names: fieldChain() });
      else if (/[0-9]/.test(src[i + 1] ?? '')) {
        const m = /^\.[0-9]+/.exec(src.slice(i))!;
        out.push({ t: 'num', v: Number(m[0]) });
        i += m[0].length;
      } else {
        out.push({ t: 'field', names: [] });
        i++;
      }
    } else if (c === '$') {
      const m = /^\$[A-Za-z0-9_]*/.exec(src.slice(i))!;
      i += m[0].length;
      out.push({ t: 'var', name: m[0], names: fieldChain() });
    } else if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) fail('unterminated quoted string');
      try {
        out.push({ t: 'str', v: JSON.parse(src.slice(i, j + 1)) as string });
      } catch {
        fail(`bad quoted string ${src.slice(i, j + 1)}`);
      }
      i = j + 1;
    } else if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) fail('unterminated raw quoted string');
      out.push({ t: 'str', v: src.slice(i + 1, j) });
      i = j + 1;
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?/.exec(src.slice(i));
      if (!m) fail(`unexpected "${c}" in operand`);
      out.push({ t: 'num', v: Number(m![0]) });
      i += m![0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ t: 'ident', name: m[0] });
      i += m[0].length;
    } else if (c === '(') {
      out.push({ t: 'lparen' });
      i++;
    } else if (c === ')') {
      i++;
      out.push({ t: 'rparen', names: fieldChain() });
    } else if (c === '|') {
      out.push({ t: 'pipe' });
      i++;
    } else if (c === ':' && src[i + 1] === '=') {
      out.push({ t: 'decl' });
      i += 2;
    } else if (c === '=') {
      out.push({ t: 'assign' });
      i++;
    } else if (c === ',') {
      out.push({ t: 'comma' });
      i++;
    } else {
      fail(`unexpected "${c}" in operand`);
    }
  }
  return out;
}

// ---------------------------------------------------------------- parsing

type Operand =
  | { k: 'field'; names: string[] }
  | { k: 'var'; name: string; names: string[] }
  | { k: 'lit'; v: unknown }
  | { k: 'func'; name: string }
  | { k: 'sub'; pipe: Pipeline; names: string[] };
interface Command { args: Operand[] }
interface Pipeline { decl: string[]; assign: boolean; cmds: Command[]; src: string }
type Node =
  | { k: 'text'; v: string }
  | { k: 'action'; pipe: Pipeline }
  | { k: 'if' | 'with'; pipe: Pipeline; body: Node[]; orElse: Node[] }
  | { k: 'range'; pipe: Pipeline; body: Node[]; orElse: Node[] };

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

interface RawAction { text: string; line: number }

/** Splits the source into text and actions, applying `{{-` / `-}}` trimming and dropping comments. */
function split(src: string): (string | RawAction)[] {
  const parts: (string | RawAction)[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open < 0) {
      if (text) parts.push(text);
      break;
    }
    let body = open + 2;
    if (src.startsWith('- ', body) || src.startsWith('-\t', body) || src.startsWith('-\n', body)) {
      text = text.replace(/\s+$/, '');
      body += 1;
    }
    if (text) parts.push(text);
    const line = src.slice(0, open).split('\n').length;
    let close: number;
    if (src.slice(body).trimStart().startsWith('/*')) {
      const end = src.indexOf('*/', body);
      close = end < 0 ? -1 : src.indexOf('}}', end);
      if (close < 0) throw new TemplateError(`template: :${line}: unclosed comment`);
    } else {
      close = findClose(src, body);
      if (close < 0) throw new TemplateError(`template: :${line}: unclosed action`);
    }
    let inner = src.slice(body, close);
    if (/\s-$/.test(inner)) {
      inner = inner.slice(0, -1);
      trimNext = true;
    }
    if (!inner.trim().startsWith('/*')) parts.push({ text: inner, line });
    i = close + 2;
  }
  return parts;
}

/** Index of the `}}` closing an action starting at `from`, skipping quoted strings. */
function findClose(src: string, from: number): number {
  for (let i = from; i < src.length; i++) {
    const c = src[i];
    if (c === '"') {
      for (i++; i < src.length && src[i] !== '"'; i++) if (src[i] === '\\') i++;
    } else if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) return -1;
      i = j;
    } else if (c === '}' && src[i + 1] === '}') return i;
  }
  return -1;
}

class Parser {
  #pos = 0;
  constructor(private readonly parts: (string | RawAction)[]) {}

  parse(): Node[] {
    const { nodes, end } = this.#list();
    if (end) throw new TemplateError(`template: :${end.line}: unexpected {{${end.word}}}`);
    return nodes;
  }

  /** Nodes up to an `end` / `else` (returned, not consumed beyond its action). */
  #list(): { nodes: Node[]; end?: { word: string; rest: Tok[]; line: number; src: string } } {
    const nodes: Node[] = [];
    while (this.#pos < this.parts.length) {
      const p = this.parts[this.#pos++]!;
      if (typeof p === 'string') {
        nodes.push({ k: 'text', v: p });
        continue;
      }
      const toks = lexAction(p.text, p.line);
      const first = toks[0];
      if (first === undefined) throw new TemplateError(`template: :${p.line}: missing value for command`);
      if (first.t === 'ident' && KEYWORDS.has(first.name)) {
        const word = first.name;
        const rest = toks.slice(1);
        if (word === 'end' || word === 'else') return { nodes, end: { word, rest, line: p.line, src: p.text } };
        if (word === 'if' || word === 'with' || word === 'range') {
          nodes.push(this.#control(word, rest, p.line, p.text));
          continue;
        }
        throw new TemplateError(`template: :${p.line}: {{${word}}} is not supported by berth's --format`);
      }
      nodes.push({ k: 'action', pipe: parsePipeline(toks, p.line, p.text) });
    }
    return { nodes };
  }

  #control(word: 'if' | 'with' | 'range', toks: Tok[], line: number, src: string): Node {
    const pipe = parsePipeline(toks, line, src);
    const { nodes: body, end } = this.#list();
    if (!end) throw new TemplateError(`template: :${line}: unexpected EOF: {{${word}}} without {{end}}`);
    let orElse: Node[] = [];
    if (end.word === 'else') {
      const nested = end.rest[0];
      if (nested?.t === 'ident' && (nested.name === 'if' || nested.name === 'with') && word !== 'range') {
        // {{else if …}}: an if inside the else branch that shares this one's {{end}}
        orElse = [this.#control(nested.name, end.rest.slice(1), end.line, end.src)];
      } else {
        if (end.rest.length > 0) throw new TemplateError(`template: :${end.line}: unexpected ${end.src.trim()}`);
        const r = this.#list();
        if (!r.end || r.end.word !== 'end') throw new TemplateError(`template: :${line}: expected {{end}} after {{else}}`);
        orElse = r.nodes;
      }
    } else if (end.rest.length > 0) throw new TemplateError(`template: :${end.line}: unexpected ${end.src.trim()}`);
    return { k: word, pipe, body, orElse };
  }
}

function parsePipeline(toks: Tok[], line: number, src: string): Pipeline {
  const fail = (why: string): never => {
    throw new TemplateError(`template: :${line}: ${why}`);
  };
  let i = 0;
  const decl: string[] = [];
  let assign = false;
  // `$x :=`, `$k, $v :=`, `$x =`
  const save = i;
  while (toks[i]?.t === 'var' && (toks[i] as { names: string[] }).names.length === 0) {
    decl.push((toks[i] as { name: string }).name);
    i++;
    if (toks[i]?.t === 'comma') i++;
    else break;
  }
  if (decl.length > 0 && (toks[i]?.t === 'decl' || toks[i]?.t === 'assign')) {
    assign = toks[i]!.t === 'assign';
    i++;
  } else {
    decl.length = 0;
    i = save;
  }

  const operand = (): Operand => {
    const t = toks[i++];
    if (t === undefined) return fail('missing value for command');
    switch (t.t) {
      case 'field': return { k: 'field', names: t.names };
      case 'var': return { k: 'var', name: t.name, names: t.names };
      case 'str': return { k: 'lit', v: t.v };
      case 'num': return { k: 'lit', v: t.v };
      case 'ident':
        if (t.name === 'true' || t.name === 'false') return { k: 'lit', v: t.name === 'true' };
        if (t.name === 'nil') return { k: 'lit', v: null };
        if (!(t.name in FUNCS)) return fail(`function "${t.name}" not defined`);
        return { k: 'func', name: t.name };
      case 'lparen': {
        const inner = pipeline(true);
        const close = toks[i++];
        if (close?.t !== 'rparen') return fail('unclosed left paren');
        return { k: 'sub', pipe: inner, names: close.names };
      }
      default: return fail(`unexpected ${t.t} in operand`);
    }
  };
  const pipeline = (nested: boolean): Pipeline => {
    const cmds: Command[] = [];
    let args: Operand[] = [];
    while (i < toks.length) {
      const t = toks[i]!;
      if (t.t === 'rparen') {
        if (!nested) fail('unexpected right paren');
        break;
      }
      if (t.t === 'pipe') {
        if (args.length === 0) fail('missing command before |');
        cmds.push({ args });
        args = [];
        i++;
        continue;
      }
      args.push(operand());
    }
    if (args.length === 0) fail(cmds.length > 0 ? 'missing command after |' : 'missing value for command');
    cmds.push({ args });
    return { decl: [], assign: false, cmds, src };
  };
  const p = pipeline(false);
  return { ...p, decl, assign };
}

// ---------------------------------------------------------------- execution

/** A missing map key: prints `<no value>`, is false. */
const NO_VALUE = Symbol('no value');

type Fn = (...args: unknown[]) => unknown;

function isTrue(v: unknown): boolean {
  if (v === NO_VALUE || v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

/** Go's %g with `prec` significant digits (-1: shortest), as strconv.FormatFloat(x, 'g', prec, 64). */
export function goFloat(x: number, prec = -1): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? '+Inf' : '-Inf';
  if (x === 0) return '0';
  let mant: string;
  let exp: number;
  if (prec < 0) {
    const [m, e] = x.toExponential().split('e');
    mant = m!;
    exp = Number(e);
  } else {
    const [m, e] = x.toExponential(Math.max(0, prec - 1)).split('e');
    mant = m!;
    exp = Number(e);
  }
  const digits = mant.replace('-', '').replace('.', '').replace(/0+$/, '') || '0';
  const eprec = prec < 0 ? 6 : prec === 0 ? 1 : prec;
  const sign = x < 0 ? '-' : '';
  if (exp < -4 || exp >= eprec) {
    const m2 = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const es = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : String(Math.abs(exp));
    return `${sign}${m2}e${exp < 0 ? '-' : '+'}${es}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return `${sign}${digits}${'0'.repeat(exp + 1 - digits.length)}`;
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

/** Go's fmt %v of a value decoded from JSON. */
export function goString(v: unknown): string {
  if (v === NO_VALUE || v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 1e21 ? String(v) : goFloat(v);
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `map[${Object.keys(o).sort().map((k) => `${k}:${goString(o[k])}`).join(' ')}]`;
  }
  return String(v);
}

/** Marks a bigint in JSON.stringify's output, to be written back as a bare number. */
const BIG = '\u0000bigint:';

/** Go's json of a value; a bigint (Go's exact int64, a nanosecond time) as its digits. */
function jsonOf(v: unknown): string {
  if (v === NO_VALUE || v === undefined) return 'null';
  const text = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${BIG}${x}` : x)) ?? 'null';
  return text.includes('\\u0000bigint:') ? text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1') : text;
}

function compare(op: string, a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b || (typeof a !== 'number' && typeof a !== 'string')) {
    throw new TemplateError(`error calling ${op}: incompatible types for comparison`);
  }
  const x = a as number | string;
  const y = b as number | string;
  switch (op) {
    case 'lt': return x < y;
    case 'le': return x <= y;
    case 'gt': return x > y;
    default: return x >= y;
  }
}

/** Go's fmt verbs as far as templates use them: %s %v %d %q %f %x %%, width, `-`. */
export function goSprintf(fmt: string, args: unknown[]): string {
  let n = 0;
  return fmt.replace(/%([-+ 0#]*)(\d*)(?:\.(\d+))?([svdqfxXgt%])/g, (_m, flags: string, width: string, precision: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (n >= args.length) return `%!${verb}(MISSING)`;
    const a = args[n++];
    let s: string;
    switch (verb) {
      case 'd': s = typeof a === 'number' ? String(Math.trunc(a)) : `%!d(${goString(a)})`; break;
      case 'q': s = JSON.stringify(goString(a)); break;
      case 'f': s = typeof a === 'number' ? a.toFixed(precision === undefined ? 6 : Number(precision)) : `%!f(${goString(a)})`; break;
      case 'x': case 'X': {
        s = typeof a === 'number' ? Math.trunc(a).toString(16) : Buffer.from(goString(a)).toString('hex');
        if (verb === 'X') s = s.toUpperCase();
        break;
      }
      case 'g': s = typeof a === 'number' ? goFloat(a, precision === undefined ? -1 : Number(precision)) : goString(a); break;
      default: s = goString(a);
    }
    if (precision !== undefined && (verb === 's' || verb === 'v')) s = [...s].slice(0, Number(precision)).join('');
    const w = Number(width || 0);
    const len = [...s].length;
    if (len < w) s = flags.includes('-') ? s + ' '.repeat(w - len) : (flags.includes('0') && verb !== 's' ? '0' : ' ').repeat(w - len) + s;
    return s;
  });
}

/** Go's fmt.Sprint: spaces between operands when neither is a string. */
function goSprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += goString(a);
  });
  return out;
}

function lenOf(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (v !== null && typeof v === 'object') return Object.keys(v).length;
  throw new TemplateError(`error calling len: len of ${v === NO_VALUE ? 'nil' : typeof v}`);
}

function indexOf(v: unknown, ...keys: unknown[]): unknown {
  let cur = v;
  for (const k of keys) {
    if (Array.isArray(cur)) {
      if (typeof k !== 'number' || !Number.isInteger(k)) throw new TemplateError('error calling index: cannot index slice/array with a non-integer');
      if (k < 0 || k >= cur.length) throw new TemplateError(`error calling index: index out of range: ${k}`);
      cur = cur[k];
    } else if (cur !== null && typeof cur === 'object') {
      if (typeof k !== 'string') throw new TemplateError('error calling index: value has type int; should be string');
      cur = Object.prototype.hasOwnProperty.call(cur, k) ? (cur as Record<string, unknown>)[k] : NO_VALUE;
    } else if (cur === NO_VALUE || cur === null || cur === undefined) {
      throw new TemplateError('error calling index: index of untyped nil');
    } else {
      throw new TemplateError(`error calling index: can't index item of type ${typeof cur}`);
    }
  }
  return cur;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : goString(v));

/** The functions of docker's templates (cli/templates) and Go's builtins. */
const FUNCS: Record<string, Fn> = {
  json: (v) => jsonOf(v),
  index: (v, ...keys) => indexOf(v, ...keys),
  len: (v) => lenOf(v),
  join: (a, sep) => (Array.isArray(a) ? a.map(str).join(str(sep)) : str(a)),
  split: (s, sep) => str(s).split(str(sep)),
  lower: (s) => str(s).toLowerCase(),
  upper: (s) => str(s).toUpperCase(),
  title: (s) => str(s).replace(/(^|[^\p{L}\p{N}'])(\p{L})/gu, (_m, p: string, c: string) => p + c.toUpperCase()),
  pad: (s, l, r) => ' '.repeat(Number(l)) + str(s) + ' '.repeat(Number(r)),
  truncate: (s, n) => [...str(s)].slice(0, Number(n)).join(''),
  print: (...a) => goSprint(a),
  printf: (f, ...a) => goSprintf(str(f), a),
  println: (...a) => `${a.map(goString).join(' ')}\n`,
  eq: (a, ...bs) => {
    if (bs.length === 0) throw new TemplateError('error calling eq: missing argument for comparison');
    return bs.some((b) => a === b);
  },
  ne: (a, b) => a !== b,
  lt: (a, b) => compare('lt', a, b),
  le: (a, b) => compare('le', a, b),
  gt: (a, b) => compare('gt', a, b),
  ge: (a, b) => compare('ge', a, b),
  not: (a) => !isTrue(a),
  // and / or evaluate lazily in Go; with side-effect-free operands eager evaluation is equivalent.
  and: (...a) => a.find((x) => !isTrue(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => isTrue(x)) ?? a[a.length - 1],
};

class Exec {
  vars: { name: string; value: unknown }[];
  out = '';
  constructor(root: unknown) {
    this.vars = [{ name: '$', value: root }];
  }

  run(nodes: Node[], dot: unknown): void {
    for (const n of nodes) {
      switch (n.k) {
        case 'text': this.out += n.v; break;
        case 'action': {
          const v = this.pipeline(n.pipe, dot);
          if (n.pipe.decl.length === 0) this.out += goString(v);
          break;
        }
        case 'if': case 'with': {
          const mark = this.vars.length;
          const v = this.pipeline(n.pipe, dot);
          if (isTrue(v)) this.run(n.body, n.k === 'with' ? v : dot);
          else this.run(n.orElse, dot);
          this.vars.length = mark;
          break;
        }
        case 'range': this.range(n, dot); break;
      }
    }
  }

  range(n: Extract<Node, { k: 'range' }>, dot: unknown): void {
    const mark = this.vars.length;
    const decl = n.pipe.decl;
    const v = this.pipeline({ ...n.pipe, decl: [] }, dot);
    let items: [unknown, unknown][];
    if (Array.isArray(v)) items = v.map((x, i) => [i, x]);
    else if (v !== null && typeof v === 'object') items = Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]);
    else if (v === NO_VALUE || v === null || v === undefined) items = [];
    else if (typeof v === 'number' && Number.isInteger(v)) items = Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
    else throw new TemplateError(`template: range can't iterate over ${goString(v)}`);
    if (items.length === 0) {
      this.run(n.orElse, dot);
      this.vars.length = mark;
      return;
    }
    for (const [k, x] of items) {
      const inner = this.vars.length;
      if (decl.length === 1) this.vars.push({ name: decl[0]!, value: x });
      if (decl.length === 2) this.vars.push({ name: decl[0]!, value: k }, { name: decl[1]!, value: x });
      this.run(n.body, x);
      this.vars.length = inner;
    }
    this.vars.length = mark;
  }

  pipeline(p: Pipeline, dot: unknown): unknown {
    let v: unknown = NO_VALUE;
    let first = true;
    for (const c of p.cmds) {
      v = this.command(c, dot, first ? undefined : { v });
      first = false;
    }
    if (p.decl.length > 0) {
      const name = p.decl[p.decl.length - 1]!;
      if (p.assign) {
        const slot = [...this.vars].reverse().find((x) => x.name === name);
        if (!slot) throw new TemplateError(`template: undefined variable: ${name}`);
        slot.value = v;
      } else this.vars.push({ name, value: v });
    }
    return v;
  }

  command(c: Command, dot: unknown, piped: { v: unknown } | undefined): unknown {
    const head = c.args[0]!;
    if (head.k === 'func') {
      const args = c.args.slice(1).map((a) => this.operand(a, dot));
      if (piped) args.push(piped.v);
      return FUNCS[head.name]!(...args);
    }
    if (c.args.length > 1 || piped) {
      throw new TemplateError(`template: can't give argument to non-function ${describe(head)}`);
    }
    return this.operand(head, dot);
  }

  operand(o: Operand, dot: unknown): unknown {
    switch (o.k) {
      case 'lit': return o.v;
      case 'field': return fields(dot, o.names, '');
      case 'var': {
        const slot = [...this.vars].reverse().find((x) => x.name === o.name);
        if (!slot) throw new TemplateError(`template: undefined variable: ${o.name}`);
        return fields(slot.value, o.names, o.name);
      }
      case 'sub': return fields(this.pipeline(o.pipe, dot), o.names, '(…)');
      case 'func': return FUNCS[o.name]!();
    }
  }
}

function describe(o: Operand): string {
  switch (o.k) {
    case 'field': return `.${o.names.join('.')}`;
    case 'var': return o.name + o.names.map((n) => `.${n}`).join('');
    case 'lit': return goString(o.v);
    default: return 'value';
  }
}

function fields(v: unknown, names: string[], base: string): unknown {
  let cur = v;
  let path = base;
  for (const n of names) {
    if (cur === NO_VALUE || cur === null || cur === undefined) {
      throw new TemplateError(`template: executing at <${path}.${n}>: nil pointer evaluating interface {}.${n}`);
    }
    if (typeof cur !== 'object' || Array.isArray(cur)) {
      throw new TemplateError(`template: executing at <${path}.${n}>: can't evaluate field ${n} in type ${Array.isArray(cur) ? '[]interface {}' : typeof cur}`);
    }
    cur = Object.prototype.hasOwnProperty.call(cur, n) ? (cur as Record<string, unknown>)[n] : NO_VALUE;
    path += `.${n}`;
  }
  return cur;
}

/** A parsed template. */
export class Template {
  private constructor(private readonly nodes: Node[]) {}

  /** Parses `src`; throws TemplateError saying what and on which line. */
  static parse(src: string): Template {
    return new Template(new Parser(split(src)).parse());
  }

  /** Runs the template with `data` as `.` and `$`; throws TemplateError. */
  execute(data: unknown): string {
    const e = new Exec(data);
    e.run(this.nodes, data);
    return e.out;
  }
}

// ---------------------------------------------------------------- tabwriter

/**
 * Go's text/tabwriter with the settings docker's formatter uses (minwidth 10, tabwidth 1,
 * padding 3, padchar ' ', no flags): tab-terminated cells aligned in column blocks.
 */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const endsNl = text.endsWith('\n');
  const lines = (endsNl ? text.slice(0, -1) : text).split('\n').map((l) => l.split('\t'));
  const width = (s: string): number => [...s].length;
  const widths: number[] = [];
  let out = '';
  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const line = lines[i]!;
      line.forEach((cell, j) => {
        out += cell;
        if (j < line.length - 1 && j < widths.length) out += ' '.repeat(Math.max(0, widths[j]! - width(cell)));
      });
      if (i < lines.length - 1 || endsNl) out += '\n';
    }
  };
  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t]!.length - 1) continue;
      writeLines(line0, t);
      line0 = t;
      let w = minwidth;
      for (; t < line1; t++) {
        const line = lines[t]!;
        if (column >= line.length - 1) break;
        w = Math.max(w, width(line[column]!) + padding);
      }
      widths.push(w);
      format(line0, t);
      widths.pop();
      line0 = t;
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out;
}

// ---------------------------------------------------------------- docker's formatter

/** docker's `\t` and `\n` escapes in a --format value. */
const unescape = (f: string): string => f.replace(/\\t/g, '\t').replace(/\\n/g, '\n');

/**
 * Renders `rows` with a `--format` value as docker's CLI does: `table …` prints a header (the
 * template run on `headers`, a field → column title map) and aligns columns; otherwise each row's
 * output is followed by a newline.
 */
export function renderFormat(format: string, rows: readonly unknown[], headers: Readonly<Record<string, string>> = {}): string {
  let f = format;
  const table = f.startsWith('table');
  if (table) f = f.slice('table'.length).replace(/^\s+/, '');
  const tpl = Template.parse(unescape(f));
  if (!table) return rows.map((r) => `${tpl.execute(r)}\n`).join('');
  let text = `${tpl.execute(headers)}\n`;
  for (const r of rows) text += `${tpl.execute(r)}\n`;
  return tabwrite(text);
}
