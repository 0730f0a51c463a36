// The baseline for "apply cost": the least a client can do to replace a map atomically over HAProxy's stats socket.
// Same protocol as routeagent (one connection per command, payload chunks of at most 8,000 bytes)
// but no checks: no verification, no error parsing beyond the version number.
import { createConnection } from 'node:net';

export function rawCommand(socket: string, cmd: string, payload?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path: socket });
    const parts: Buffer[] = [];
    s.on('connect', () => s.end(payload === undefined ? `${cmd}\n` : `${cmd}\n${payload}\n`));
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    s.on('error', reject);
  });
}

/**
 * prepare map → add map @v <<chunk … → commit map @v. With `counted`, also the reads routeagent checks with: `show map`
 * (the entry counts) after the prepare and again before the commit, read to the end but not checked: the floor of a
 * checking client.
 */
export async function rawReplace(
  socket: string,
  path: string,
  entries: readonly { key: string; backend: string }[],
  counted = false,
  maxBytes = 8000,
): Promise<void> {
  const version = /New version created: (\d+)/.exec(await rawCommand(socket, `prepare map ${path}`))?.[1];
  if (version === undefined) throw new Error('raw client: prepare map failed');
  if (counted) await rawCommand(socket, 'show map');
  let chunk = '';
  for (const e of entries) {
    const line = `${e.key} ${e.backend}\n`;
    if (chunk.length + line.length > maxBytes) {
      await rawCommand(socket, `add map @${version} ${path} <<`, chunk);
      chunk = '';
    }
    chunk += line;
  }
  if (chunk !== '') await rawCommand(socket, `add map @${version} ${path} <<`, chunk);
  if (counted) await rawCommand(socket, 'show map');
  await rawCommand(socket, `commit map @${version} ${path}`);
}
