// Synthetic Traefik routers for the bench: many apps under one exposed domain, with a realistic mix of rules
// (mostly a bare Host, some with a path, a negation or a header), as /api/http/routers lists them, and the service of
// each (a Kubernetes Service with two endpoints, both UP). Names are zero-padded so they come out already in Traefik's name order.

export type RouterSpec = {
  readonly count: number;
  /** Distinguishes clusters and generations: host `<prefix><n>.technis.io`, router `<prefix><n>@kubernetescrd`. */
  readonly prefix: string;
  readonly domain?: string;
};

export function hostOf(prefix: string, i: number, domain = 'technis.io'): string {
  return `${prefix}${String(i).padStart(6, '0')}.${domain}`;
}

/** The rule of router `i` (Traefik v3 syntax). */
export function ruleOf(host: string, i: number): string {
  switch (i % 10) {
    case 7:
      return `Host(\`${host}\`) && PathPrefix(\`/api\`)`;
    case 8:
      return `Host(\`${host}\`) && !PathPrefix(\`/admin\`)`;
    case 9:
      return `(Host(\`${host}\`) && Header(\`X-Tenant\`, \`a\`)) || (Host(\`${host}\`) && Method(\`GET\`))`;
    default:
      return `Host(\`${host}\`)`;
  }
}

/** `count` HTTP routers with TLS, so each gives one `hosts` and one `sni` entry. */
export function makeRouters(spec: RouterSpec): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < spec.count; i++) {
    const host = hostOf(spec.prefix, i, spec.domain);
    const name = host.slice(0, host.indexOf('.'));
    out.push({
      entryPoints: ['websecure'],
      service: `${name}-svc`,
      rule: ruleOf(host, i),
      priority: 0,
      tls: { certResolver: 'le' },
      status: 'enabled',
      using: ['websecure'],
      name: `${name}@kubernetescrd`,
      provider: 'kubernetescrd',
    });
  }
  return out;
}

/** The load-balancer service of each router of `makeRouters(spec)`, as /api/http/services lists it (with serverStatus). */
export function makeServices(spec: RouterSpec): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < spec.count; i++) {
    const host = hostOf(spec.prefix, i, spec.domain);
    const name = host.slice(0, host.indexOf('.'));
    const urls = [`http://10.42.${(i >> 8) & 255}.${i & 255}:80`, `http://10.43.${(i >> 8) & 255}.${i & 255}:80`];
    out.push({
      loadBalancer: {
        servers: urls.map((url) => ({ url })),
        strategy: 'wrr',
        passHostHeader: true,
        responseForwarding: { flushInterval: '100ms' },
      },
      status: 'enabled',
      usedBy: [`${name}@kubernetescrd`],
      serverStatus: Object.fromEntries(urls.map((url) => [url, 'UP'])),
      name: `${name}-svc@kubernetescrd`,
      provider: 'kubernetescrd',
      type: 'loadbalancer',
    });
  }
  return out;
}
