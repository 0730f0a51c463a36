// The floor a sync cannot go below: GET /version and every page of /http/routers and /tcp/routers of each cluster with
// plain node:http (keep-alive, as got uses), JSON.parse each body, and nothing else (no schema check, no rules, no maps).
import { get, Agent } from 'node:http';

const agent = new Agent({ keepAlive: true });

function getJson(url: string): Promise<{ body: unknown; next: number }> {
  return new Promise((resolve, reject) => {
    get(url, { agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        try {
          resolve({ body: JSON.parse(Buffer.concat(parts).toString('utf8')), next: Number(res.headers['x-next-page'] ?? 1) });
        } catch (err) {
          reject(err as Error);
        }
      });
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** Every router of every cluster; returns how many. */
export async function plainFetchAll(apis: readonly string[], perPage = 1000): Promise<number> {
  const counts = await Promise.all(
    apis.map(async (api) => {
      await getJson(`${api}/version`);
      let n = 0;
      for (const kind of ['http', 'tcp']) {
        for (let page = 1; ; ) {
          const { body, next } = await getJson(`${api}/${kind}/routers?page=${page}&per_page=${perPage}`);
          n += (body as unknown[]).length;
          if (!(next > page)) break;
          page = next;
        }
      }
      return n;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}
