// normaliseHost is the gate between Traefik's text and a map line: nothing that could inject a line gets through.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isExposed, normaliseHost } from '../../agent/core/hosts.js';

const ok: [string, string][] = [
  ['App.Example.COM', 'app.example.com'],
  ['app.example.com.', 'app.example.com'],
  ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
  ['a-b.c1.example', 'a-b.c1.example'],
  ['localhost', 'localhost'],
  [`${'a'.repeat(63)}.example.com`, `${'a'.repeat(63)}.example.com`],
];
for (const [raw, want] of ok) test(`accepts ${JSON.stringify(raw).slice(0, 40)}`, () => assert.equal(normaliseHost(raw), { host: want }));

const bad: [string, string][] = [
  ['', 'empty host'],
  ['.', 'empty host'],
  ['a b.example.com', 'host "a b.example.com" has whitespace, control or non-ASCII characters (use punycode)'],
  [
    'a.example.com\nevil.example.com be_x',
    'host "a.example.com\\nevil.example.com be_x" has whitespace, control or non-ASCII characters (use punycode)',
  ],
  ['tab\t.example.com', 'host "tab\\t.example.com" has whitespace, control or non-ASCII characters (use punycode)'],
  ['nul\u0000.example.com', 'host "nul\\u0000.example.com" has whitespace, control or non-ASCII characters (use punycode)'],
  ['аpple.com', 'host "аpple.com" has whitespace, control or non-ASCII characters (use punycode)'], // Cyrillic а
  ['\u212Aeys.technis.io', 'host "\u212Aeys.technis.io" has whitespace, control or non-ASCII characters (use punycode)'], // Kelvin sign: toLowerCase() makes it "k"
  ['#comment.example.com', 'host "#comment.example.com" is not a valid DNS name'],
  ['a..example.com', 'host "a..example.com" is not a valid DNS name'],
  ['-lead.example.com', 'host "-lead.example.com" is not a valid DNS name'],
  ['trail-.example.com', 'host "trail-.example.com" is not a valid DNS name'],
  ['under_score.example.com', 'host "under_score.example.com" is not a valid DNS name'],
  ['*.example.com', 'host "*.example.com" is not a valid DNS name'],
  [`${'a'.repeat(64)}.example.com`, `host "${'a'.repeat(64)}.example.com" has a label longer than 63 characters`],
  [`${'abcdefghi.'.repeat(30)}com`, 'host longer than 253 characters (303)'],
];
for (const [raw, want] of bad) test(`rejects ${JSON.stringify(raw).slice(0, 40)}`, () => assert.equal(normaliseHost(raw), { error: want }));

const expose = { domains: ['technis.io'], hosts: ['app.example.org'], exclude: ['keys2kingdom.technis.io', '*.internal.technis.io'] };
const cases: [string, boolean][] = [
  ['technis.io', true],
  ['grafana.technis.io', true],
  ['a.b.technis.io', true],
  ['nottechnis.io', false],
  ['technis.io.evil.com', false],
  ['app.example.org', true],
  ['other.example.org', false],
  ['keys2kingdom.technis.io', false],
  ['x.keys2kingdom.technis.io', true],
  ['db.internal.technis.io', false],
  ['internal.technis.io', true],
];
for (const [host, want] of cases) test(`expose ${host} → ${want}`, () => assert.is(isExposed(host, expose), want));

test.run();
