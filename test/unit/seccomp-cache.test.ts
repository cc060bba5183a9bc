// src/runtime/seccomp-cache.ts and addSeccomp: which program a profile gets, and what a cache file must be to be used.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeccompCache, checkProgram, formatEntry, parseEntry, programKey } from '../../src/runtime/seccomp-cache.ts';
import { addSeccomp, addSeccompBuild } from '../../src/runtime/seccomp.ts';
import { Plan } from '../../src/native/plan.ts';
import type { Seccomp } from '../../src/runtime/spec/types.ts';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'h10-seccomp-cache-'));
  dirs.push(d);
  return d;
}

/** BPF_RET K instructions: a shape-valid program of `n` instructions */
function prog(n: number, k = 0x7fff0000): Buffer {
  const b = Buffer.alloc(n * 8);
  for (let i = 0; i < n; i++) {
    b.writeUInt16LE(0x06, i * 8);
    b.writeUInt32LE(k, i * 8 + 4);
  }
  return b;
}

const keyOf = (sc: Seccomp): string => {
  const p = new Plan();
  addSeccompBuild(p, sc);
  return programKey(p.records);
};

const BASE: Seccomp = {
  defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'],
  syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 1, value: 0o777, op: 'SCMP_CMP_EQ' }] }],
};

describe('programKey', () => {
  test('equal profiles, equal keys; a change of default action, errno, arch, flag, argument value or operator, another key', () => {
    const k = keyOf(BASE);
    assert.match(k, /^[0-9a-f]{64}$/);
    assert.equal(keyOf(structuredClone(BASE)), k);
    const variants: Seccomp[] = [
      { ...BASE, defaultAction: 'SCMP_ACT_LOG' },
      { ...BASE, defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38 },
      { ...BASE, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'] },
      { ...BASE, flags: ['SECCOMP_FILTER_FLAG_LOG'] },
      { ...BASE, syscalls: [{ ...BASE.syscalls![0]!, errnoRet: 13 }] },
      { ...BASE, syscalls: [{ ...BASE.syscalls![0]!, args: [{ index: 1, value: 0o755, op: 'SCMP_CMP_EQ' }] }] },
      { ...BASE, syscalls: [{ ...BASE.syscalls![0]!, args: [{ index: 1, value: 0o777, op: 'SCMP_CMP_NE' }] }] },
      { ...BASE, syscalls: [{ ...BASE.syscalls![0]!, args: [{ index: 2, value: 0o777, op: 'SCMP_CMP_EQ' }] }] },
      { ...BASE, syscalls: [{ ...BASE.syscalls![0]!, names: ['fchmod'] }] },
    ];
    const keys = variants.map(keyOf);
    assert.equal(new Set([k, ...keys]).size, variants.length + 1);
  });

  test('argument boundaries count: ["ab", "c"] is not ["a", "bc"]', () => {
    assert.notEqual(programKey([{ op: 'seccomp_rule', args: ['ab', 'c'] }]), programKey([{ op: 'seccomp_rule', args: ['a', 'bc'] }]));
  });
});

describe('cache files', () => {
  const key = 'a'.repeat(64);
  test('a program written is read back as it was', () => {
    const p = prog(3);
    assert.deepEqual(parseEntry(formatEntry(key, p), key), p);
  });

  test('a file that is not intact, or is another key\'s, is not used', () => {
    const p = prog(3);
    const good = formatEntry(key, p);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 1]! ^= 1;
    const bad: Array<[string, Buffer, string]> = [
      ['another key', good, 'b'.repeat(64)],
      ['truncated', good.subarray(0, good.length - 8), key],
      ['an extra instruction', Buffer.concat([good, prog(1)]), key],
      ['one bit flipped', flipped, key],
      ['empty', Buffer.alloc(0), key],
      ['no header', p, key],
      ['a count over BPF_MAXINSNS', Buffer.from(good.toString('latin1').replace('insns 3', 'insns 9999'), 'latin1'), key],
    ];
    for (const [what, data, k] of bad) assert.equal(parseEntry(data, k), undefined, what);
  });

  test('only whole programs of 1 to 4096 instructions ending in BPF_RET are programs', () => {
    assert.ok(checkProgram(prog(1)));
    assert.ok(checkProgram(prog(4096)));
    assert.ok(!checkProgram(prog(4097)));
    assert.ok(!checkProgram(Buffer.alloc(0)));
    assert.ok(!checkProgram(prog(2).subarray(0, 12)));
    const jumpLast = prog(2);
    jumpLast.writeUInt16LE(0x05, 8); // BPF_JMP|BPF_JA: would run off the end
    assert.ok(!checkProgram(jumpLast));
  });
});

describe('SeccompCache', () => {
  test('put writes a file another process (a new cache on the same directory) reads; a damaged file is ignored and rewritten', () => {
    const dir = join(tmp(), 'cache');
    const key = 'c'.repeat(64);
    const p = prog(5);
    assert.equal(new SeccompCache(dir).get(key), undefined);
    assert.ok(new SeccompCache(dir).put(key, p));
    assert.deepEqual(readdirSync(dir), [`${key}.bpf`], 'no temporary file left');
    assert.deepEqual(new SeccompCache(dir).get(key), p);
    writeFileSync(join(dir, `${key}.bpf`), readFileSync(join(dir, `${key}.bpf`)).subarray(0, 60));
    const fresh = new SeccompCache(dir);
    assert.equal(fresh.get(key), undefined);
    assert.ok(fresh.put(key, p));
    assert.deepEqual(new SeccompCache(dir).get(key), p);
  });

  test('put refuses what is not a program', () => {
    const c = new SeccompCache();
    assert.equal(c.put('d'.repeat(64), Buffer.from('not bpf')), false);
    assert.equal(c.get('d'.repeat(64)), undefined);
  });
});

describe('addSeccomp', () => {
  const sc: Seccomp = { ...BASE, flags: ['SECCOMP_FILTER_FLAG_LOG'] };
  test('a miss builds the filter and has berth-init compile it (seccomp_export with the key); a hit gives the program and its flags, no rule', () => {
    const cache = new SeccompCache();
    const miss = new Plan();
    const m = addSeccomp(miss, sc, cache);
    const key = keyOf(sc);
    assert.equal(m.compileKey, key);
    assert.deepEqual(m.loadArgs, ['compiled', key]);
    assert.deepEqual(miss.records.map((r) => r.op), ['seccomp_init', 'seccomp_arch', 'seccomp_flag', 'seccomp_rule', 'seccomp_export']);
    assert.deepEqual(miss.records.at(-1)!.args, [key]);

    const p = prog(4);
    cache.put(key, p);
    const hit = new Plan();
    const h = addSeccomp(hit, sc, cache);
    assert.equal(h.compileKey, undefined);
    assert.deepEqual(h.loadArgs, ['cached', key, 4]);
    assert.deepEqual(hit.records, [
      { op: 'seccomp_flag', args: ['SECCOMP_FILTER_FLAG_LOG'] },
      { op: 'seccomp_program', args: [key, '4', p.toString('hex')] },
    ]);
  });

  test('without a cache every plan compiles', () => {
    const plan = new Plan();
    assert.equal(addSeccomp(plan, sc).compileKey, keyOf(sc));
  });
});
