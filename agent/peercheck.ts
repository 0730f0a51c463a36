// `routeagent status --peer`: are both nodes of a CARP pair holding byte-identical maps? Asks the peer for its state
// and compares each map's SHA-256 with this node's files. 0 identical, 1 not (or the peer cannot be asked).
import { readFile } from 'node:fs/promises';
import type { Config } from './config.js';
import { MAP_NAMES } from './core/maps.js';
import { digest } from './core/peerstate.js';
import { AgentError } from './errors.js';
import { readCarpState } from './io/carp.js';
import { fetchPeerState, readToken } from './io/peer.js';

export async function comparePeer(config: Config, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const ha = config.ha;
  if (!ha) {
    err('routeagent: status --peer needs "ha" in the config (this node is not part of a CARP pair); nothing compared\n');
    return 1;
  }
  let peer: Awaited<ReturnType<typeof fetchPeerState>>;
  try {
    peer = await fetchPeerState(ha.peer, await readToken(ha.tokenFile));
  } catch (e) {
    if (!(e instanceof AgentError)) throw e;
    err(`routeagent: ${e.message}; nothing compared\n`);
    return 1;
  }
  const carp = await readCarpState(ha.ifconfig, ha.vhid).catch(() => 'unknown');
  out(
    `this node: CARP vhid ${ha.vhid} ${carp}; peer ${ha.peer}: ${peer.role} (CARP ${peer.carp})${peer.at ? `, maps from the sync ${peer.at}` : ', not synced yet'}\n`,
  );
  let differ = 0;
  for (const m of MAP_NAMES) {
    const path = config.haproxy.maps[m];
    const mine = digest(await readFile(path, 'utf8').catch(() => ''));
    const theirs = peer.maps[m].sha256;
    if (mine === theirs) out(`identical: map ${m} sha256 ${mine}\n`);
    else {
      differ++;
      out(`differs: map ${m}: this node ${path} sha256 ${mine}, peer sha256 ${theirs}\n`);
    }
  }
  out(
    differ
      ? `not identical: ${differ} of ${MAP_NAMES.length} maps differ; the follower mirrors the leader at its next sync\n`
      : 'identical: both nodes hold the same map files\n',
  );
  return differ ? 1 : 0;
}
