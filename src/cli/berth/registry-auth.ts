// docker's X-Registry-Auth header: what `docker login` / `berth login` stored on the client side
// for a reference's registry, sent with pull and push (berthd never reads the client's config).
import { credentialsFor, parseReference } from '../../image/index.ts';

/** base64url of docker's AuthConfig for `name`'s registry; `e30=` (`{}`) when none is stored, as docker sends. */
export async function registryAuthHeader(name: string): Promise<string> {
  let domain: string;
  try {
    domain = parseReference(name).domain;
  } catch {
    return 'e30=';
  }
  let c: Awaited<ReturnType<typeof credentialsFor>>;
  try {
    c = await credentialsFor(domain);
  } catch (e) {
    // a failing credential helper: which registry's credentials, then the helper's own words
    throw new Error(`credentials for ${domain}: ${(e as Error).message}`, { cause: e });
  }
  if (!c) return 'e30=';
  const doc = { username: c.username, password: c.password, serveraddress: domain, ...(c.identityToken !== undefined && { identitytoken: c.identityToken }) };
  return Buffer.from(JSON.stringify(doc)).toString('base64url');
}
