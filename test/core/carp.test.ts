// carpState/roleOf and the peer state document: ifconfig text → role, and what a follower accepts from its leader.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { carpState, roleOf } from '../../agent/core/carp.js';
import { buildPeerState, digest, mirrorOf, parsePeerState } from '../../agent/core/peerstate.js';

const IFCONFIG = `em0: flags=8943<UP,BROADCAST,RUNNING,PROMISC,SIMPLEX,MULTICAST> metric 0 mtu 1500
	inet 10.0.10.2 netmask 0xffffff00 broadcast 10.0.10.255
	inet 10.0.10.1 netmask 0xffffff00 broadcast 10.0.10.255 vhid 10
	carp: MASTER vhid 10 advbase 1 advskew 0
	carp: BACKUP vhid 11 advbase 1 advskew 100
`;

const carp = suite('carpState');
carp('reads the state of the configured vhid', () => {
  assert.is(carpState(IFCONFIG, 10), 'MASTER');
  assert.is(carpState(IFCONFIG, 11), 'BACKUP');
  assert.is(carpState(IFCONFIG, 12), 'missing');
  assert.is(carpState('\tcarp: INIT vhid 10 advbase 1 advskew 0\n', 10), 'INIT');
});
carp('does not take vhid 1 for vhid 10, and needs MASTER on every line of a vhid', () => {
  assert.is(carpState('\tcarp: MASTER vhid 10 advbase 1 advskew 0\n', 1), 'missing');
  assert.is(carpState('\tcarp: MASTER vhid 10 advbase 1\n\tcarp: BACKUP vhid 10 advbase 1\n', 10), 'BACKUP');
});
carp('only MASTER leads', () => {
  assert.equal((['MASTER', 'BACKUP', 'INIT', 'missing'] as const).map(roleOf), ['leader', 'follower', 'follower', 'follower']);
});
carp.run();

const texts = { hosts: 'a.technis.io hades_http_ipvANY\n', sni: 'a.technis.io hades_https_ipvANY\nb.technis.io illmatic_https_ipvANY\n' };
const failover = { claims: [], failovers: [] };
const leader = buildPeerState({ role: 'leader', carp: 'MASTER', at: '2026-01-01T00:00:00.000Z', texts, failover });

const doc = suite('peer state');
doc('a leader that synced is mirrored entry for entry, with its digests', () => {
  assert.is(leader.maps.sni.sha256, digest(texts.sni));
  assert.match(leader.maps.sni.sha256, /^[0-9a-f]{64}$/);
  const parsed = parsePeerState(JSON.parse(JSON.stringify(leader)));
  assert.ok('state' in parsed);
  const r = mirrorOf(parsed.state);
  assert.ok('mirror' in r);
  assert.equal(r.mirror.entries.sni, [
    { key: 'a.technis.io', backend: 'hades_https_ipvANY' },
    { key: 'b.technis.io', backend: 'illmatic_https_ipvANY' },
  ]);
});
doc('a follower, a leader that never synced, a wrong digest and an unsorted map are refused', () => {
  assert.equal(mirrorOf({ ...leader, role: 'follower', carp: 'BACKUP' }), {
    error: 'the peer is not the leader (its CARP state is BACKUP)',
  });
  const { at: _at, ...unsynced } = leader;
  assert.equal(mirrorOf(unsynced), { error: 'the leader has not synced yet' });
  const bad = { ...leader, maps: { ...leader.maps, hosts: { text: texts.hosts, sha256: digest('x') } } };
  assert.equal(mirrorOf(bad), { error: `map hosts: its sha256 ${digest('x')} does not match its text` });
  const unsorted = 'b.technis.io x\na.technis.io y\n';
  assert.equal(mirrorOf({ ...leader, maps: { ...leader.maps, hosts: { text: unsorted, sha256: digest(unsorted) } } }), {
    error: 'map hosts: not a map as routeagent writes it (sorted "host backend" lines)',
  });
  const injected = 'a.technis.io hades extra\n';
  assert.equal(mirrorOf({ ...leader, maps: { ...leader.maps, hosts: { text: injected, sha256: digest(injected) } } }), {
    error: 'map hosts: map entry refused: backend "hades extra" of a.technis.io is not a backend name ([A-Za-z0-9._:-])',
  });
});
doc('what is not a state document says why', () => {
  assert.equal(parsePeerState([]), { error: 'unknown state version undefined' });
  assert.equal(parsePeerState({ ...leader, role: 'boss' }), { error: 'unknown role "boss"' });
  assert.equal(parsePeerState({ ...leader, maps: { hosts: leader.maps.hosts } }), { error: 'map sni is missing its text or sha256' });
  assert.equal(parsePeerState({ ...leader, failover: { claims: [['k', { down: 'x' }]], failovers: [] } }), {
    error: 'failover claims are malformed',
  });
});
doc.run();
