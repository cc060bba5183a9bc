// src/cli/progress.ts: docker's rendering of a daemon's JSON-lines progress, on a terminal and off it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { JsonMessageView, progressBar } from '../../src/cli/progress.ts';

function sink(isTTY: boolean): { out: { write(s: string): void; isTTY: boolean }; text: () => string } {
  let buf = '';
  return { out: { write: (s: string) => void (buf += s), isTTY }, text: () => buf };
}

describe('progressBar', () => {
  test("docker's bar: 50 columns, sizes right-aligned", () => {
    assert.equal(progressBar(0, 1000), `[>${' '.repeat(49)}]       0B/1kB`);
    assert.equal(progressBar(13_800_000, 27_650_000), `[${'='.repeat(24)}>${' '.repeat(25)}]   13.8MB/27.65MB`);
    assert.equal(progressBar(5, 5), `[${'='.repeat(50)}]       5B/5B`);
  });
});

describe('JsonMessageView', () => {
  const pull = [
    { status: 'Pulling from test/app', id: '1' },
    { status: 'Pulling fs layer', progressDetail: {}, id: 'aaaaaaaaaaaa' },
    { status: 'Downloading', progressDetail: { current: 5, total: 10 }, progress: 'x', id: 'aaaaaaaaaaaa' },
    { status: 'Already exists', progressDetail: {}, id: 'bbbbbbbbbbbb' },
    { status: 'Pull complete', progressDetail: {}, id: 'aaaaaaaaaaaa' },
    { status: 'Digest: sha256:00' },
  ];
  test('off a terminal: a line per message, progress bars left out (docker without a TTY)', () => {
    const s = sink(false);
    const v = new JsonMessageView(s.out);
    for (const m of pull) v.show(m);
    assert.equal(s.text(), '1: Pulling from test/app\naaaaaaaaaaaa: Pulling fs layer\nbbbbbbbbbbbb: Already exists\naaaaaaaaaaaa: Pull complete\nDigest: sha256:00\n');
  });
  test('on a terminal: a line per layer, redrawn in place with its bar', () => {
    const s = sink(true);
    const v = new JsonMessageView(s.out);
    for (const m of pull) v.show(m);
    assert.equal(s.text(), [
      '1: Pulling from test/app\n',
      '\n\x1b[1A\x1b[2K\raaaaaaaaaaaa: Pulling fs layer\r\x1b[1B',
      `\x1b[1A\x1b[2K\raaaaaaaaaaaa: Downloading ${progressBar(5, 10)}\r\x1b[1B`,
      '\n\x1b[1A\x1b[2K\rbbbbbbbbbbbb: Already exists\r\x1b[1B',
      '\x1b[2A\x1b[2K\raaaaaaaaaaaa: Pull complete\r\x1b[2B',
      'Digest: sha256:00\n',
    ].join(''));
  });
});
