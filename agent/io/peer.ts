// The HTTP client for the other node of a CARP pair: `GET <peer>/v1/state` with the shared bearer token, one request,
// bounded in time and size. Answers the document (shape checked) or throws a PeerError saying what went wrong.
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type PeerState, parsePeerState } from '../core/peerstate.js';
import { AgentError } from '../errors.js';

export const PEER_TIMEOUT_MS = 10_000;
/** Two maps of a large edge are a few MB; anything much larger is not a state document. */
const MAX_BODY_BYTES = 64 << 20;

/** soft: the peer did not answer, refused the token or answered something that is not a state document. */
export class PeerError extends AgentError {
  constructor(
    message: string,
    readonly why: 'unreachable' | 'token' | 'answer',
  ) {
    super('ERR_PEER', message);
  }
}

/** The shared secret: the file's content without surrounding whitespace. Never logged. */
export async function readToken(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new AgentError('ERR_TOKEN', `ha token file ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const token = text.trim();
  if (!token) throw new AgentError('ERR_TOKEN', `ha token file ${path}: empty`);
  return token;
}

/** The peer's state document. */
export async function fetchPeerState(peer: string, token: string, timeoutMs = PEER_TIMEOUT_MS): Promise<PeerState> {
  const url = new URL('v1/state', peer.endsWith('/') ? peer : `${peer}/`);
  const where = `peer ${peer}`;
  const { status, body } = await get(url, token, timeoutMs).catch((e: Error) => {
    throw new PeerError(`${where}: unreachable (${e.message})`, 'unreachable');
  });
  if (status === 401)
    throw new PeerError(`${where}: refused our token (401); ha.tokenFile must hold the same secret on both nodes`, 'token');
  if (status === 503) throw new PeerError(`${where}: has no state to share (503: ${reasonOf(body)})`, 'answer');
  if (status !== 200) throw new PeerError(`${where}: answered HTTP ${status} to GET /v1/state`, 'answer');
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new PeerError(`${where}: answered something that is not JSON`, 'answer');
  }
  const parsed = parsePeerState(json);
  if ('error' in parsed) throw new PeerError(`${where}: not a state document (${parsed.error})`, 'answer');
  return parsed.state;
}

// The peer's one-line reason, as printable text of bounded length: it lands in our log and status.
function reasonOf(body: string): string {
  const line = body
    .split('\n')[0]!
    .replace(/[^\x20-\x7e]/g, '?')
    .trim()
    .slice(0, 200);
  return line || 'no reason given';
}

function get(url: URL, token: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'GET', headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY_BYTES) req.destroy(new Error(`answer larger than ${MAX_BODY_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    // `timeout` fires on an idle socket; a whole-exchange deadline as well, so a trickling peer cannot hold a sync up.
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code && !e.message.startsWith('no answer') && !e.message.startsWith('answer') ? e.code : e.message)),
    );
    req.on('close', () => clearTimeout(deadline));
    req.end();
  });
}
