// --format (a Go text/template subset, docker's table/tabwriter output) and docker's human units.
// Expected strings are what Go's text/template, text/tabwriter and go-units print for the same input.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Template, TemplateError, goFloat, goSprintf, renderFormat, tabwrite } from '../../src/cli/format.ts';
import { createdSince, ellipsis, humanDuration, humanSize, humanSizeWithPrecision } from '../../src/cli/units.ts';

const run = (src: string, data: unknown): string => Template.parse(src).execute(data);

const image = {
  Id: 'sha256:1a41e2d6e8a7',
  RepoTags: ['busybox:latest', 'busybox:1.36'],
  Size: 4261550,
  Config: { Env: ['PATH=/bin', 'A=b'], Labels: { 'org.opencontainers.image.version': '1.36', maintainer: 'me' }, Cmd: ['sh'] },
  Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  Empty: [],
};

describe('template: fields and printing', () => {
  test('fields, nested fields, text around them', () => {
    assert.equal(run('id={{.Id}} cmd={{.Config.Cmd}}', image), 'id=sha256:1a41e2d6e8a7 cmd=[sh]');
  });
  test('values print as Go %v: slices [a b], maps map[k:v] sorted, integers in full, missing <no value>', () => {
    assert.equal(run('{{.RepoTags}}', image), '[busybox:latest busybox:1.36]');
    assert.equal(run('{{.Config.Labels}}', image), 'map[maintainer:me org.opencontainers.image.version:1.36]');
    assert.equal(run('{{.Size}}', image), '4261550');
    assert.equal(run('{{.Nope}}', image), '<no value>');
    assert.equal(run('{{.}}', 'plain'), 'plain');
  });
  test('json of the whole value and of a field (no HTML escaping, like docker)', () => {
    assert.equal(run('{{json .Config.Env}}', image), '["PATH=/bin","A=b"]');
    assert.equal(run('{{json .}}', { a: '<&>', b: [1] }), '{"a":"<&>","b":[1]}');
    assert.equal(run('{{.Config.Cmd | json}}', image), '["sh"]');
  });
  test('index into maps (keys with dots) and arrays; len', () => {
    assert.equal(run('{{index .Config.Labels "org.opencontainers.image.version"}}', image), '1.36');
    assert.equal(run('{{index .RepoTags 1}}', image), 'busybox:1.36');
    assert.equal(run('{{index .Config.Labels "absent"}}', image), '<no value>');
    assert.equal(run('{{len .RepoTags}}', image), '2');
    assert.equal(run('{{(index .Config.Labels "maintainer") | upper}}', image), 'ME');
  });
  test('a field of a missing value is an error naming the path', () => {
    assert.throws(() => run('{{.Nope.Deeper}}', image), /nil pointer evaluating interface \{\}\.Deeper/);
    assert.throws(() => run('{{.Size.X}}', image), /can't evaluate field X/);
  });
});

describe('template: control structures and variables', () => {
  test('range over arrays and maps (sorted keys), with variables and else', () => {
    assert.equal(run('{{range .Config.Env}}[{{.}}]{{end}}', image), '[PATH=/bin][A=b]');
    assert.equal(run('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}', image), 'maintainer=me;org.opencontainers.image.version=1.36;');
    assert.equal(run('{{range $i, $t := .RepoTags}}{{$i}}:{{$t}} {{end}}', image), '0:busybox:latest 1:busybox:1.36 ');
    assert.equal(run('{{range .Empty}}x{{else}}none{{end}}', image), 'none');
    assert.equal(run('{{range .RepoTags}}{{$.Id}} {{end}}', image), 'sha256:1a41e2d6e8a7 sha256:1a41e2d6e8a7 ');
  });
  test('if / else if / else with Go truthiness; with rebinds the dot', () => {
    assert.equal(run('{{if .Empty}}a{{else if .Size}}b{{else}}c{{end}}', image), 'b');
    assert.equal(run('{{if .Nope}}a{{else}}c{{end}}', image), 'c');
    assert.equal(run('{{if eq .Id "sha256:1a41e2d6e8a7" "x"}}yes{{end}}', image), 'yes');
    assert.equal(run('{{if and .Size (not .Empty)}}ok{{end}}', image), 'ok');
    assert.equal(run('{{with .Config}}{{.Cmd}}{{end}}', image), '[sh]');
    assert.equal(run('{{with .Nope}}x{{else}}absent{{end}}', image), 'absent');
    assert.equal(run('{{$n := len .RepoTags}}{{if gt $n 1}}many{{end}}', image), 'many');
  });
  test('trim markers and comments', () => {
    assert.equal(run('a  {{- .Size -}}  b{{/* gone */}}', image), 'a4261550b');
    assert.equal(run('{{range .RepoTags -}}\n  {{.}}\n{{- end}}', image), 'busybox:latestbusybox:1.36');
  });
  test('docker functions: join split lower upper title pad truncate printf println', () => {
    assert.equal(run('{{join .RepoTags ", "}}', image), 'busybox:latest, busybox:1.36');
    assert.equal(run('{{index (split "a:b:c" ":") 2}}', image), 'c');
    assert.equal(run('{{lower "AbC"}}{{upper "x"}}{{title "hello world"}}', null), 'abcXHello World');
    assert.equal(run('[{{pad "x" 1 2}}]{{truncate "abcdef" 3}}', null), '[ x  ]abc');
    assert.equal(run('{{printf "%-6s|%5d|%q" "ab" 42 "q"}}', null), 'ab    |   42|"q"');
    assert.equal(run('{{println "a" 1}}', null), 'a 1\n');
  });
  test('parse errors say what and where; unknown functions are refused', () => {
    assert.throws(() => Template.parse('{{.A'), (e: Error) => e instanceof TemplateError && /unclosed action/.test(e.message));
    assert.throws(() => Template.parse('x\n{{nope .A}}'), /template: :2: function "nope" not defined/);
    assert.throws(() => Template.parse('{{if .A}}x'), /without \{\{end\}\}/);
    assert.throws(() => Template.parse('{{end}}'), /unexpected \{\{end\}\}/);
    assert.throws(() => run('{{.A 1}}', { A: 1 }), /can't give argument to non-function \.A/);
  });
});

describe('table output as docker prints it', () => {
  const headers = { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID' };
  const rows = [{ Repository: 'busybox', Tag: 'latest', ID: '1a41e2d6e8a7' }, { Repository: '127.0.0.1:5000/test/app', Tag: '1', ID: 'ffffffffffff' }];
  test('table: header from the template, columns padded by 3 with a minimum of 10, last column unpadded', () => {
    assert.equal(renderFormat('table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}', rows, headers), [
      'REPOSITORY                TAG       IMAGE ID',
      'busybox                   latest    1a41e2d6e8a7',
      '127.0.0.1:5000/test/app   1         ffffffffffff',
      '',
    ].join('\n'));
  });
  test('without table: one line per row, \\t becomes a tab, no header', () => {
    assert.equal(renderFormat('{{.Repository}}:{{.Tag}}\\t{{.ID}}', rows, headers), 'busybox:latest\t1a41e2d6e8a7\n127.0.0.1:5000/test/app:1\tffffffffffff\n');
  });
  test('table with no rows prints the header alone', () => {
    assert.equal(renderFormat('table {{.ID}}\\t{{.Tag}}', [], headers), 'IMAGE ID   TAG\n');
  });
  test('tabwriter: column blocks end at a line with fewer cells (Go semantics)', () => {
    assert.equal(tabwrite('a\tb\tc\nlong-cell-1\tx\nz\n'), 'a             b         c\nlong-cell-1   x\nz\n');
  });
});

describe('units (go-units)', () => {
  test('HumanSizeWithPrecision 3 (images SIZE), HumanSize 4 (reclaimed space)', () => {
    assert.equal(humanSizeWithPrecision(0, 3), '0B');
    assert.equal(humanSizeWithPrecision(999, 3), '999B');
    assert.equal(humanSizeWithPrecision(1234, 3), '1.23kB');
    assert.equal(humanSizeWithPrecision(4261550, 3), '4.26MB');
    assert.equal(humanSizeWithPrecision(12_345_678, 3), '12.3MB');
    assert.equal(humanSizeWithPrecision(999_999, 3), '1e+03kB', 'go-units keeps Go %g quirks');
    assert.equal(humanSizeWithPrecision(2_000_000_000, 3), '2GB');
    assert.equal(humanSize(1_234_567), '1.235MB');
    assert.equal(humanSize(1_200_000), '1.2MB');
  });
  test('goFloat is strconv.FormatFloat(x, g, prec)', () => {
    assert.equal(goFloat(1234567), '1.234567e+06');
    assert.equal(goFloat(0.5), '0.5');
    assert.equal(goFloat(0.00001), '1e-05');
    assert.equal(goFloat(100, 3), '100');
    assert.equal(goSprintf('%.2f%%', [12.345]), '12.35%');
  });
  test('HumanDuration and "… ago"', () => {
    assert.equal(humanDuration(500), 'Less than a second');
    assert.equal(humanDuration(1000), '1 second');
    assert.equal(humanDuration(59_000), '59 seconds');
    assert.equal(humanDuration(61_000), 'About a minute');
    assert.equal(humanDuration(2 * 60_000 + 5000), '2 minutes');
    assert.equal(humanDuration(59 * 60_000), '59 minutes');
    assert.equal(humanDuration(90 * 60_000), '2 hours', 'hours are rounded');
    assert.equal(humanDuration(47 * 3_600_000), '47 hours');
    assert.equal(humanDuration(3 * 86_400_000), '3 days');
    assert.equal(humanDuration(20 * 86_400_000), '2 weeks');
    assert.equal(humanDuration(90 * 86_400_000), '3 months');
    assert.equal(humanDuration(3 * 365 * 86_400_000), '3 years');
    const now = Date.UTC(2024, 0, 1);
    assert.equal(createdSince(now / 1000 - 120, now), '2 minutes ago');
    assert.equal(createdSince(0, now), 'N/A');
  });
  test('ellipsis cuts to max characters with …', () => {
    assert.equal(ellipsis('abcdef', 4), 'abc…');
    assert.equal(ellipsis('abc', 4), 'abc');
  });
});
