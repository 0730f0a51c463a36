// Proves createLog: one line per event with the level first (daemon(8) turns each line into one syslog message).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { count, createLog, silentLog } from '../agent/log.js';

function captured(min?: Parameters<typeof createLog>[1]) {
  const lines: string[] = [];
  return { lines, log: createLog((l) => lines.push(l), min) };
}

test('writes `level message` and a newline', () => {
  const { lines, log } = captured();
  log.info('sync: hosts +2 ~1 -0');
  log.warn('traefik[hades]: 401');
  log.error('config: invalid');
  assert.equal(lines, ['info sync: hosts +2 ~1 -0\n', 'warn traefik[hades]: 401\n', 'error config: invalid\n']);
});

test('drops levels below the minimum (info by default)', () => {
  const byDefault = captured();
  byDefault.log.debug('hidden');
  assert.equal(byDefault.lines, []);
  const warnAndUp = captured('warn');
  warnAndUp.log.info('hidden');
  warnAndUp.log.warn('shown');
  assert.equal(warnAndUp.lines, ['warn shown\n']);
  const all = captured('debug');
  all.log.debug('shown');
  assert.equal(all.lines, ['debug shown\n']);
});

test('newlines inside a message are flattened to one space: one event, one line', () => {
  const { lines, log } = captured();
  log.error('haproxy -c: [ALERT] a\r\n[ALERT] b\n\nc');
  assert.equal(lines, ['error haproxy -c: [ALERT] a [ALERT] b c\n']);
});

test('silentLog writes nothing and does not throw', () => {
  silentLog.error('nothing');
});

test('count: the noun agrees with the number', () => {
  assert.is(count(0, 'entry', 'entries'), '0 entries');
  assert.is(count(1, 'entry', 'entries'), '1 entry');
  assert.is(count(3, 'entry', 'entries'), '3 entries');
});

test.run();
