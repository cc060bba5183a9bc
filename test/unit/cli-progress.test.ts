// src/cli/progress.ts: docker pull's per-layer lines, on a terminal and off it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { PullProgressView, progressBar } from '../../src/cli/progress.ts';
import type { Digest } from '../../src/image/store/digest.ts';

const D1 = `sha256:${'a'.repeat(64)}` as Digest;
const D2 = `sha256:${'b'.repeat(64)}` as Digest;

function sink(isTTY: boolean): { out: { write(s: string): void; isTTY: boolean }; text: () => string } {
  let buf = '';
  return { out: { write: (s: string) => void (buf += s), isTTY }, text: () => buf };
}

describe('progressBar', () => {
  test("docker's 50-column bar and sizes", () => {
    assert.equal(progressBar(0, 1000), `[>${' '.repeat(49)}]       0B/1kB`);
    assert.equal(progressBar(13_800_000, 27_650_000), `[${'='.repeat(24)}>${' '.repeat(25)}]   13.8MB/27.65MB`);
    assert.equal(progressBar(5, 5), `[${'='.repeat(50)}]       5B/5B`);
  });
});

describe('PullProgressView', () => {
  test('without a terminal: one line per change of state, as docker prints them', () => {
    const s = sink(false);
    const v = new PullProgressView(s.out);
    v.header('1', 'demo/busybox');
    v.update({ digest: D1, phase: 'downloading', current: 0, total: 10 });
    v.update({ digest: D1, phase: 'downloading', current: 5, total: 10 }); // no new line for bytes
    v.update({ digest: D2, phase: 'exists', total: 3 });
    v.update({ digest: D1, phase: 'downloaded', total: 10 });
    v.update({ digest: D1, phase: 'complete', total: 10 });
    v.update({ digest: D1, phase: 'downloaded', total: 10 }); // late: a complete layer stays complete
    v.finish();
    assert.equal(s.text(), [
      '1: Pulling from demo/busybox',
      'aaaaaaaaaaaa: Pulling fs layer',
      'bbbbbbbbbbbb: Already exists',
      'aaaaaaaaaaaa: Download complete',
      'aaaaaaaaaaaa: Pull complete',
      '',
    ].join('\n'));
  });

  test('on a terminal: the lines are redrawn in place with the bar', () => {
    const s = sink(true);
    const v = new PullProgressView(s.out);
    v.update({ digest: D1, phase: 'downloading', current: 5, total: 10 });
    v.update({ digest: D2, phase: 'exists', total: 3 });
    v.finish();
    v.update({ digest: D1, phase: 'complete', total: 10 });
    v.finish();
    const frames = s.text();
    assert.equal(frames, [
      `\x1b[2Kaaaaaaaaaaaa: Downloading ${progressBar(5, 10)}\n\x1b[2Kbbbbbbbbbbbb: Already exists\n`,
      `\x1b[2A\x1b[2Kaaaaaaaaaaaa: Pull complete\n\x1b[2Kbbbbbbbbbbbb: Already exists\n`,
    ].join(''));
  });
});
