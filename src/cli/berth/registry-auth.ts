// docker's X-Registry-Auth header: what `docker login` / `berth login` stored on the client side
// for a reference's registry, sent with pull and push (berthd never reads the client's config).
import { credentialsFor } from '../../image/auth/index.ts';
import { parseReference } from '../../image/reference.ts';

/** base64url of docker's AuthConfig for `name`'s registry; `e30=` (`{}`) when none is stored, as docker sends. */
export async function registryAuthHeader(name: string): Promise<string> {
  let domain: string;
  try {
    domain = parseReference(name).domain;
  } catch {
    return 'e30=';
  }
  const c = await credentialsFor(domain);
  if (!c) return 'e30=';
  const doc = { username: c.username, password: c.password, serveraddress: domain, ...(c.identityToken !== undefined && { identitytoken: c.identityToken }) };
  return Buffer.from(JSON.stringify(doc)).toString('base64url');
}
