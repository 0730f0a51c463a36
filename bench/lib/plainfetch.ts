// The floor a sync cannot go below: GET /api/rawdata of each cluster (its routers and the services failover needs, in
// one answer) with plain node:http (keep-alive, as got uses), JSON.parse it, and nothing else (no schema check, no rules, no maps).
import { Agent, get } from 'node:http';

const agent = new Agent({ keepAlive: true });

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    get(url, { agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(parts).toString('utf8')));
        } catch (err) {
          reject(err as Error);
        }
      });
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** Every router of every cluster; returns how many. */
export async function plainFetchAll(apis: readonly string[]): Promise<number> {
  const counts = await Promise.all(
    apis.map(async (api) => {
      const body = (await getJson(`${api}/rawdata`)) as Record<string, Record<string, unknown> | undefined>;
      return Object.keys(body['routers'] ?? {}).length + Object.keys(body['tcpRouters'] ?? {}).length;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}
