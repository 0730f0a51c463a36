// Host names: normalisation, strict DNS validation, and the expose allowlist.
// Nothing from Traefik reaches a map without passing normaliseHost: a space or newline in a key would inject map lines.

export type Expose = { readonly domains: readonly string[]; readonly hosts: readonly string[]; readonly exclude: readonly string[] };

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Lower-case A-Z only: toLowerCase() turns some non-ASCII letters into ASCII ones (the Kelvin sign K becomes k). */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** Lower-case, drop one trailing dot, and check DNS syntax; returns the host or why it can't be a map key. */
export function normaliseHost(raw: string): { host: string } | { error: string } {
  // A look-alike letter must be rejected below, not become another host: lower-case ASCII only.
  const host = asciiLower(raw).replace(/\.$/, '');
  if (host.length === 0) return { error: 'empty host' };
  if (host.length > 253) return { error: `host longer than 253 characters (${host.length})` };
  if (/[^\x21-\x7e]/.test(host))
    return { error: `host ${JSON.stringify(raw)} has whitespace, control or non-ASCII characters (use punycode)` };
  for (const label of host.split('.')) {
    if (label.length > 63) return { error: `host ${JSON.stringify(raw)} has a label longer than 63 characters` };
    if (!LABEL.test(label)) return { error: `host ${JSON.stringify(raw)} is not a valid DNS name` };
  }
  return { host };
}

/** True when `host` equals or is under `domain` (both normalised). */
export function isUnder(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}

/** The allowlist: exposed only if under a domain or listed, and not excluded (exact, or `*.suffix` for anything under suffix). */
export function isExposed(host: string, expose: Expose): boolean {
  const allowed = expose.hosts.includes(host) || expose.domains.some((d) => isUnder(host, d));
  if (!allowed) return false;
  return !expose.exclude.some((x) => (x.startsWith('*.') ? host.endsWith(x.slice(1)) : host === x));
}
