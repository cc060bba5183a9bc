/**
 * docker's registry credentials on the wire: the `X-Registry-Auth` header (base64url of an
 * AuthConfig JSON) of pull and push, and the AuthConfig body of `POST /auth`.
 */
import type { Credentials } from '../image/index.ts';

export interface AuthConfig {
  username?: string;
  password?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
  auth?: string;
  email?: string;
}

/** Credentials from an AuthConfig: username+password, `auth` (base64 `user:pass`), or an identity token. */
export function credentialsOf(a: AuthConfig): Credentials | undefined {
  let username = typeof a.username === 'string' ? a.username : '';
  let password = typeof a.password === 'string' ? a.password : '';
  if (username === '' && typeof a.auth === 'string' && a.auth !== '') {
    const plain = Buffer.from(a.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon > 0) {
      username = plain.slice(0, colon);
      password = plain.slice(colon + 1);
    }
  }
  const identityToken = typeof a.identitytoken === 'string' && a.identitytoken !== '' ? a.identitytoken : undefined;
  if (username === '' && identityToken === undefined) return undefined;
  return { username, password, ...(identityToken !== undefined && { identityToken }) };
}

/**
 * The credentials in an `X-Registry-Auth` header. As dockerd, a missing, empty or undecodable
 * header means anonymous access (docker's clients send `e30=`, `{}`, when they have none).
 */
export function registryAuthHeader(header: string | string[] | undefined): Credentials | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  try {
    // Node's base64 decoder takes both alphabets, padded or not: docker's URL encoding and the standard one
    const doc: unknown = JSON.parse(Buffer.from(value.trim(), 'base64').toString('utf8'));
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
    return credentialsOf(doc as AuthConfig);
  } catch {
    return undefined;
  }
}
