// Proves byteOrder: a locale-free sort, so maps, plans and logs come out byte-identical on every machine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { byteOrder } from '../../agent/core/order.js';

test('sorts by code unit: digits, then upper case, then lower case, then dots after hyphens', () => {
  assert.equal(['b.technis.io', 'B.technis.io', 'a-b.technis.io', 'a.technis.io', '9.technis.io'].sort(byteOrder), [
    '9.technis.io',
    'B.technis.io',
    'a-b.technis.io',
    'a.technis.io',
    'b.technis.io',
  ]);
});

test('not localeCompare: an upper-case key sorts before every lower-case one', () => {
  assert.is(byteOrder('Z', 'a'), -1);
  assert.is('Z'.localeCompare('a', 'en'), 1);
});

test('equal strings compare 0; a prefix sorts first', () => {
  assert.is(byteOrder('a.technis.io', 'a.technis.io'), 0);
  assert.is(byteOrder('a.technis', 'a.technis.io'), -1);
  assert.is(byteOrder('a.technis.io', 'a.technis'), 1);
});

test.run();
