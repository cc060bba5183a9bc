// The dependency picture is the seed's stack: cli -> api -> engine -> image | runtime -> native,
// imports only go downward, and no module imports itself back through others (type imports count:
// a cycle of types is still a cycle in the design).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function sources(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const files = sources(SRC);
const graph = new Map<string, string[]>();
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const deps = [...text.matchAll(/^(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)].map((m) => resolve(dirname(f), m[1]!));
  graph.set(f, deps.filter((d) => files.includes(d)));
}
const rel = (f: string): string => relative(SRC, f);

/** The layer of a module: 0 cli, 1 api, 2 engine, 3 image/runtime/network, 4 native. */
function layer(f: string): number {
  const top = rel(f).split('/')[0]!;
  return ({ cli: 0, api: 1, engine: 2, image: 3, runtime: 3, network: 3, native: 4 } as Record<string, number>)[top] ?? 9;
}

test('no import cycles in src/ (Tarjan: every strongly connected component is one module)', () => {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(rel(w));
      } while (w !== v);
      if (scc.length > 1) cycles.push(scc);
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});

test('imports only go downward: cli -> api -> engine -> image | runtime -> native', () => {
  const upward: string[] = [];
  for (const [f, deps] of graph) for (const d of deps) if (layer(d) < layer(f)) upward.push(`${rel(f)} -> ${rel(d)}`);
  assert.deepEqual(upward, []);
});

test('image and runtime are separate libraries: the image side uses only the OCI spec types of the runtime', () => {
  const across: string[] = [];
  for (const [f, deps] of graph) {
    for (const d of deps) {
      const [a, b] = [rel(f).split('/')[0], rel(d).split('/')[0]];
      if (layer(f) !== 3 || layer(d) !== 3 || a === b) continue;
      // a bundle's config.json is the runtime spec: its types and runc's default are the contract
      if (a === 'image' && /^runtime\/spec\/(types|default)\.ts$/.test(rel(d))) continue;
      across.push(`${rel(f)} -> ${rel(d)}`);
    }
  }
  assert.deepEqual(across, []);
});

test('the engine and the CLIs reach the image side through its one entry point (src/image/index.ts)', () => {
  const deep: string[] = [];
  for (const [f, deps] of graph) {
    if (layer(f) > 2) continue;
    for (const d of deps) if (rel(d).startsWith('image/') && rel(d) !== 'image/index.ts') deep.push(`${rel(f)} -> ${rel(d)}`);
  }
  assert.deepEqual(deep, []);
});
