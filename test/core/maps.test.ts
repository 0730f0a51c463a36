// The table of map kinds: the order every output lists maps in, the order check reports cluster backends in, and the
// one backend check (exists, right mode) that apply and check both word.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backendFault, CLUSTER_MAPS, MAP_KINDS, MAP_NAMES, perMap } from '../../agent/core/maps.js';

const table = suite('MAP_KINDS');
table('maps are listed in byte order of their names; clusters name the required backends first', () => {
  assert.equal(MAP_NAMES, ['hosts', 'sni']);
  assert.equal(CLUSTER_MAPS, ['sni', 'hosts']);
});
table('sni is read by the TLS frontend from the SNI and needs tcp backends; hosts by :80 from the Host header, http', () => {
  assert.equal([MAP_KINDS.sni.frontend, MAP_KINDS.sni.mode, MAP_KINDS.sni.sample], [':443', 'tcp', 'req.ssl_sni,lower']);
  assert.equal([MAP_KINDS.hosts.frontend, MAP_KINDS.hosts.mode, MAP_KINDS.hosts.sample], [':80', 'http', 'req.hdr(host),field(1,:),lower']);
});
table('perMap builds one value per map', () => {
  assert.equal(
    perMap((m) => MAP_KINDS[m].file),
    { hosts: 'hosts.map', sni: 'sni.map' },
  );
});
table.run();

const fault = suite('backendFault');
const modes = new Map([
  ['hades_https_ipvANY', 'tcp' as const],
  ['hades_http_ipvANY', 'http' as const],
]);
fault('a backend of the mode its map needs is fine', () => {
  assert.is(backendFault('sni', 'hades_https_ipvANY', modes), undefined);
  assert.is(backendFault('hosts', 'hades_http_ipvANY', modes), undefined);
});
fault('a backend HAProxy does not have is missing', () => {
  assert.equal(backendFault('sni', 'nope_ipvANY', modes), { kind: 'missing' });
});
fault('a backend of the other mode is named with both modes', () => {
  assert.equal(backendFault('sni', 'hades_http_ipvANY', modes), { kind: 'mode', actual: 'http', need: 'tcp' });
  assert.equal(backendFault('hosts', 'hades_https_ipvANY', modes), { kind: 'mode', actual: 'tcp', need: 'http' });
});
fault.run();
