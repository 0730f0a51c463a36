// Synthetic Traefik routers for the bench: many apps under one exposed domain, with a realistic mix of rules
// (mostly a bare Host, some with a path, a negation or a header), as /api/http/routers lists them. Names are
// zero-padded so they come out already in Traefik's name order.

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
