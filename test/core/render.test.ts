// renderMap writes sorted, validated `key value` lines and refuses anything that could inject a map line;
// parseMapText reads files as HAProxy does; renderPayload cuts the rendered lines into payloads under the byte limit in one
// pass, with renderMap's refusals: it must give what the plain reference below (splitPayload) cuts from renderMap's text.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { byKey, mapTextHolds, parseMapText, renderMap, renderPayload, sameEntries } from '../../agent/core/render.js';

// The reference renderPayload is held to: map text → chunks of whole lines, each at most `maxBytes` UTF-8 bytes.
function splitPayload(text: string, maxBytes = 8000): string[] {
  const chunks: string[] = [];
  let chunkStart = 0;
  let size = 0;
  // Lines are found with indexOf and chunks cut with slice: no per-line strings for a 50,000-entry map.
  const ascii = !NON_ASCII.test(text); // then a line's bytes are its characters (always, for renderMap's output)
  for (let start = 0; start < text.length; ) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    const bytes = ascii ? end - start : utf8Length(text, start, end);
    if (bytes > maxBytes) throw new Error(`map line of ${bytes} bytes exceeds the ${maxBytes}-byte payload limit`);
    if (size + bytes > maxBytes) {
      chunks.push(text.slice(chunkStart, start));
      chunkStart = start;
      size = 0;
    }
    size += bytes;
    start = end;
  }
  if (chunkStart < text.length) chunks.push(text.slice(chunkStart));
  return chunks;
}

// A character beyond ASCII: then a line's UTF-8 bytes are more than its characters.
const NON_ASCII = /[\u0080-\uffff]/; // UTF-16 code units: astral characters are surrogates in this range

function utf8Length(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

const render = suite('renderMap');
render('sorts by key, one `key value` line each', () => {
  const text = renderMap([
    { key: 'b.example.com', backend: 'hades_https_ipvANY' },
    { key: 'a.example.com', backend: 'be_a' },
    { key: 'xn--bcher-kva.example', backend: 'be:1.x-y_z' },
  ]);
  assert.is(text, 'a.example.com be_a\nb.example.com hades_https_ipvANY\nxn--bcher-kva.example be:1.x-y_z\n');
});
render('an empty map is an empty file', () => {
  assert.is(renderMap([]), '');
});
render('refuses a duplicate key, naming both backends', () => {
  assert.throws(
    () =>
      renderMap([
        { key: 'a.test', backend: 'be_a' },
        { key: 'a.test', backend: 'be_b' },
      ]),
    (e: Error) => e.message === 'map entry refused: duplicate key a.test (be_a, be_b)',
  );
});
render('refuses keys and backends that could inject or corrupt a map line', () => {
  const bad: [string, string, string][] = [
    ['a.test\nevil.test', 'be_a', 'map entry refused: key "a.test\\nevil.test" is not a lowercase DNS name'],
    ['a.test evil', 'be_a', 'map entry refused: key "a.test evil" is not a lowercase DNS name'],
    ['#a.test', 'be_a', 'map entry refused: key "#a.test" is not a lowercase DNS name'],
    ['A.test', 'be_a', 'map entry refused: key "A.test" is not a lowercase DNS name'],
    ['', 'be_a', 'map entry refused: key "" is not a lowercase DNS name'],
    ['a.test;', 'be_a', 'map entry refused: key "a.test;" is not a lowercase DNS name'],
    ['a.test', 'be_a ', 'map entry refused: backend "be_a " of a.test is not a backend name ([A-Za-z0-9._:-])'],
    ['a.test', 'be_a\nb.test be_b', 'map entry refused: backend "be_a\\nb.test be_b" of a.test is not a backend name ([A-Za-z0-9._:-])'],
    ['a.test', 'be;x', 'map entry refused: backend "be;x" of a.test is not a backend name ([A-Za-z0-9._:-])'],
    ['a.test', '', 'map entry refused: backend "" of a.test is not a backend name ([A-Za-z0-9._:-])'],
    ['a.test', 'be\r', 'map entry refused: backend "be\\r" of a.test is not a backend name ([A-Za-z0-9._:-])'],
    [`${'a'.repeat(254)}`, 'be_a', `map entry refused: key "${'a'.repeat(254)}" is not a lowercase DNS name`],
  ];
  for (const [key, backend, message] of bad) {
    assert.throws(
      () => renderMap([{ key, backend }]),
      (e: Error) => e.message === message,
      message,
    );
  }
});
render.run();

const parse = suite('parseMapText');
parse('reads what renderMap writes', () => {
  const entries = [
    { key: 'a.test', backend: 'be_a' },
    { key: 'b.test', backend: 'be_b' },
  ];
  assert.equal(parseMapText(renderMap(entries)), entries);
});
parse('skips blank lines and column-0 comments, tolerates CRLF and extra blanks, as HAProxy does', () => {
  const text = '# routeagent\n\n  a.test \t be_a  \r\nb.test\tbe_b\n   # indented: HAProxy loads this as key "#"\nnovalue\n';
  assert.equal(parseMapText(text), [
    { key: 'a.test', backend: 'be_a' },
    { key: 'b.test', backend: 'be_b' },
    { key: '#', backend: 'indented: HAProxy loads this as key "#"' },
    { key: 'novalue', backend: '' },
  ]);
});
parse('an empty file is an empty map', () => {
  assert.equal(parseMapText(''), []);
});
parse.run();

const holds = suite('mapTextHolds');
// Its definition: what HAProxy would load from the text (parseMapText) holds the entries as a multiset (sameEntries).
const heldByParsing = (text: string, entries: readonly { key: string; backend: string }[]) => sameEntries(parseMapText(text), entries);
holds('agrees with parsing the text, for the rendered text and for every way a file can differ from it', () => {
  const a = { key: 'a.test', backend: 'be_a' };
  const b = { key: 'b.test', backend: 'be_b' };
  const lists = [
    [],
    [a],
    [a, b],
    [b, a],
    [a, a],
    [a, { key: 'a.test', backend: 'be_b' }],
    [{ key: 'A.test', backend: 'be_a' }],
    [{ key: 'a b', backend: 'c' }],
  ];
  const texts = [
    '',
    '\n',
    renderMap([a]),
    renderMap([a, b]),
    'b.test be_b\na.test be_a\n', // another order
    'a.test be_a\nb.test be_b', // no newline at the end
    'a.test be_a\r\nb.test be_b\r\n', // CRLF
    '# routeagent\na.test be_a\nb.test be_b\n', // a comment
    'a.test  be_a\nb.test be_b\n', // two blanks
    'a.test be_a \nb.test be_b\n', // a trailing blank
    ' a.test be_a\nb.test be_b\n', // a leading blank
    'a.test be_a\n\nb.test be_b\n', // a blank line
    'a.test be_a\na.test be_a\n', // a duplicate
    'a.test be_a\nb.test be_b\nc.test be_c\n', // one more
    'A.test be_a\n',
    'a b c\n',
  ];
  let held = 0;
  for (const entries of lists) {
    for (const text of texts) {
      const want = heldByParsing(text, entries);
      if (want) held++;
      assert.is(mapTextHolds(text, entries), want, JSON.stringify([text, entries]));
    }
  }
  assert.ok(held >= 10, `only ${held} texts held their entries`);
});
holds('agrees with parsing on random mutations of a rendered map', () => {
  const pieces = [' ', '\t', '\n', '\r', '#', 'a', '.test', 'be_a', 'x'];
  const entries = Array.from({ length: 5 }, (_, i) => ({ key: `h${i}.test`, backend: i % 2 ? 'be_a' : 'be_b' }));
  const rendered = renderMap(entries);
  let seed = 11;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return Math.floor((seed / 2147483648) * n); // the high bits: the low ones of this generator cycle
  };
  for (let i = 0; i < 5000; i++) {
    let text = rendered;
    for (let k = rand(3); k > 0; k--) {
      const at = rand(text.length + 1);
      text = rand(2) ? text.slice(0, at) + pieces[rand(pieces.length)]! + text.slice(at) : text.slice(0, at) + text.slice(at + 1);
    }
    assert.is(mapTextHolds(text, entries), heldByParsing(text, entries), JSON.stringify(text));
  }
});
holds.run();

const split = suite('splitPayload');
split('keeps every chunk at or under maxBytes and every line whole', () => {
  const entries = Array.from({ length: 1000 }, (_, i) => ({ key: `host-${String(i).padStart(4, '0')}.example.com`, backend: 'be_app1' }));
  const text = renderMap(entries);
  const chunks = splitPayload(text, 1000);
  assert.ok(chunks.length > 1);
  for (const c of chunks) {
    assert.ok(Buffer.byteLength(c) <= 1000, `chunk of ${Buffer.byteLength(c)} bytes`);
    assert.ok(c.endsWith('\n'));
  }
  assert.is(chunks.join(''), text);
});
split('a line exactly at the limit fits; one over it throws', () => {
  assert.equal(splitPayload('abc d\nefg h\n', 6), ['abc d\n', 'efg h\n']);
  assert.throws(() => splitPayload('abcdefg h\n', 6), /map line of 10 bytes exceeds the 6-byte payload limit/);
});
split('empty text gives no chunks; the default limit is 8000 bytes', () => {
  assert.equal(splitPayload(''), []);
  const line = `${'a'.repeat(98)} b\n`; // 101 bytes
  const chunks = splitPayload(line.repeat(200));
  assert.equal(
    chunks.map((c) => Buffer.byteLength(c)),
    [7979, 7979, 4242],
  );
});
split.run();

const payload = suite('renderPayload');
payload('gives the chunks splitPayload cuts from renderMap, at any limit', () => {
  const entries = Array.from({ length: 1000 }, (_, i) => ({
    key: `host-${String(i).padStart(4, '0')}.example.com`,
    backend: `be_app${i % 3}`,
  }));
  for (const maxBytes of [30, 31, 1000, 8000, 100_000]) {
    assert.equal(renderPayload(byKey(entries), maxBytes), splitPayload(renderMap(entries), maxBytes), `maxBytes ${maxBytes}`);
  }
  assert.equal(renderPayload([]), []);
});
payload('refuses what renderMap refuses, and a line over the limit', () => {
  const refusal = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };
  for (const entries of [
    [
      { key: 'a.test', backend: 'be_a' },
      { key: 'a.test', backend: 'be_b' },
    ],
    [{ key: 'A.test', backend: 'be_a' }],
    [{ key: 'a.test', backend: 'be a' }],
  ]) {
    assert.is(
      refusal(() => renderPayload(entries)),
      refusal(() => renderMap(entries)),
    );
  }
  assert.throws(
    () => renderPayload([{ key: 'abcdefg', backend: 'h' }], 6),
    (e: Error) => e.message === 'map line of 10 bytes exceeds the 6-byte payload limit',
  );
});
payload.run();

const same = suite('sameEntries');
same('ignores order, counts duplicates, compares values exactly', () => {
  const a = { key: 'a.test', backend: 'be_a' };
  const b = { key: 'b.test', backend: 'be_b' };
  assert.ok(sameEntries([a, b], [b, a]));
  assert.not.ok(sameEntries([a, a], [a]));
  assert.not.ok(sameEntries([a, a, b], [a, b, b]));
  assert.not.ok(sameEntries([a], [{ key: 'a.test', backend: 'be_a ' }]));
  assert.equal(byKey([b, a]), [a, b]);
});
same.run();
