// A self-signed certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1), made by openssl in a folder of the caller's:
// what an https fake Traefik serves, and what a cluster's `tls.ca` trusts. Needs openssl (skipUnless(…, 'openssl')).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type LoopbackPki = { readonly caPath: string; readonly key: Buffer; readonly cert: Buffer };

/** Write key.pem and ca.pem (the certificate, which is its own CA) into `dir`. */
export function loopbackPki(dir: string): LoopbackPki {
  const keyPath = join(dir, 'key.pem');
  const caPath = join(dir, 'ca.pem');
  const subject = ['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', ...subject, '-keyout', keyPath, '-out', caPath], {
    stdio: 'ignore',
  });
  return { caPath, key: readFileSync(keyPath), cert: readFileSync(caPath) };
}
