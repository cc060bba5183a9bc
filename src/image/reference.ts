// Image references as docker parses and normalises them (distribution/reference's
// ParseNormalizedNamed + TagNameOnly):
//
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [ domain "/" ] path
//   domain     := host [ ":" port ]           host := domain-name | "[" ipv6 "]"
//   domain-name:= component ( "." component )*   component := [a-zA-Z0-9] ( [a-zA-Z0-9-]* [a-zA-Z0-9] )?
//   path       := path-component ( "/" path-component )*
//   path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//   tag        := [\w][\w.-]{0,127}
//   digest     := algorithm ":" hex           (sha256: 64, sha384: 96, sha512: 128 lowercase hex)
//
// Normalisation: the first "/"-separated component is a domain only if it contains "." or ":",
// is "localhost", or has uppercase letters (paths never may); otherwise the domain is docker.io.
// "index.docker.io" becomes "docker.io"; a one-component path on docker.io gets "library/".
// With neither tag nor digest the tag is "latest"; "name:tag@digest" keeps both.
//
// The string is split by hand and each part checked with a small linear pattern, so a hostile
// reference cannot make a regular expression backtrack, and each error can say which part is wrong.

export const DEFAULT_DOMAIN = 'docker.io';
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
/** distribution/reference's limit on the repository path (the name without its domain). */
export const NAME_TOTAL_LENGTH_MAX = 255;

const FORMAT = 'invalid reference format';

/** A reference that docker would refuse, with docker's wording plus the part that is wrong. */
export class InvalidReferenceError extends Error {
  constructor(readonly reference: string, message: string) {
    super(message);
    this.name = 'InvalidReferenceError';
  }
}

const DOMAIN_COMPONENT = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const IPV6_HOST = /^\[[a-fA-F0-9:]+\]$/;
const PORT = /^[0-9]+$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST_ALGORITHM = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*$/;
const HEX = /^[0-9a-fA-F]+$/;
const IDENTIFIER = /^[a-f0-9]{64}$/;
const IMAGE_ID = /^sha256:[a-f0-9]{64}$/;

/** Hex lengths of the digest algorithms docker accepts (go-digest's registered ones). */
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

export class ImageReference {
  /**
   * @param domain registry domain, with port if any: `docker.io`, `localhost:5000`, `[::1]:5000`
   * @param path repository path inside the registry: `library/busybox`, `user/repo`
   * @param tag `latest` when the reference had neither tag nor digest
   * @param digest `sha256:<64 hex>`
   * @param tagDefaulted true when `tag` is the default `latest`, not written by the user
   */
  constructor(
    readonly domain: string,
    readonly path: string,
    readonly tag?: string,
    readonly digest?: string,
    readonly tagDefaulted = false,
  ) {}

  /** `domain/path`: the repository, without tag or digest. */
  repository(): string {
    return `${this.domain}/${this.path}`;
  }

  /** The full normalised form: `docker.io/library/busybox:latest`, `host:5000/x:1@sha256:…`. */
  toString(): string {
    return this.repository() + suffix(this.tag, this.digest);
  }

  /** docker's short repository name (the REPOSITORY column): `busybox`, `user/repo`, `localhost:5000/x`. */
  familiarName(): string {
    if (this.domain !== DEFAULT_DOMAIN) return this.repository();
    if (this.path.startsWith(OFFICIAL_REPO_PREFIX)) {
      const rest = this.path.slice(OFFICIAL_REPO_PREFIX.length);
      if (!rest.includes('/')) return rest;
    }
    return this.path;
  }

  /** docker's short form of the whole reference: `busybox:latest`, `user/repo@sha256:…`. */
  familiar(): string {
    return this.familiarName() + suffix(this.tag, this.digest);
  }
}

function suffix(tag: string | undefined, digest: string | undefined): string {
  return (tag !== undefined ? `:${tag}` : '') + (digest !== undefined ? `@${digest}` : '');
}

/**
 * Parse and normalise an image reference as `docker pull` does:
 * `busybox` → `docker.io/library/busybox:latest`. Throws InvalidReferenceError.
 */
export function parseReference(s: string): ImageReference {
  if (typeof s !== 'string' || s === '') {
    throw new InvalidReferenceError(String(s), `${FORMAT}: repository name must have at least one component`);
  }
  const fail = (why: string): never => {
    throw new InvalidReferenceError(s, `${FORMAT}: ${why} in "${s}"`);
  };
  // An image ID, bare or as `sha256:<id>` (what `images -q --no-trunc` prints), is not a name: read
  // as one, the second would be docker.io/library/sha256 with the ID as its tag, and go to Docker Hub.
  if (IDENTIFIER.test(s) || IMAGE_ID.test(s)) {
    throw new InvalidReferenceError(s, `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }

  // name[:tag]@digest — no part before the digest may contain "@".
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const why = digestProblem(digest);
    if (why !== undefined) fail(`invalid digest "${digest}": ${why}`);
  }

  // A ":" after the last "/" starts the tag; one before it belongs to the domain's port.
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (tag === '') fail('empty tag after ":"');
    if (!TAG.test(tag)) {
      fail(`invalid tag "${tag}" (up to 128 letters, digits, "_", "." or "-", not starting with "." or "-")`);
    }
  }
  if (rest === '') fail('repository name must have at least one component');

  // Domain: the first component, if it looks like one (docker's splitDockerDomain).
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first) {
      domain = first === LEGACY_DEFAULT_DOMAIN ? DEFAULT_DOMAIN : first;
      path = rest.slice(slash + 1);
      const why = domainProblem(domain);
      if (why !== undefined) fail(`invalid domain "${domain}": ${why}`);
    }
  }
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path;

  if (path.toLowerCase() !== path) {
    throw new InvalidReferenceError(s, `${FORMAT}: repository name (${path}) must be lowercase`);
  }
  for (const component of path.split('/')) {
    if (component === '') fail(`empty path component in "${path}" (leading, trailing or double "/")`);
    if (!PATH_COMPONENT.test(component)) {
      fail(`invalid path component "${component}" (lowercase letters and digits, separated by ".", "_", "__" or "-")`);
    }
  }
  if (path.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidReferenceError(s,
      `${FORMAT}: repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters (${path.length})`);
  }

  const tagDefaulted = tag === undefined && digest === undefined;
  return new ImageReference(domain, path, tagDefaulted ? DEFAULT_TAG : tag, digest, tagDefaulted);
}

/** Why `domain` (host[:port]) is not a valid registry domain, or undefined if it is. */
function domainProblem(domain: string): string | undefined {
  let host = domain;
  let port: string | undefined;
  if (domain.startsWith('[')) {
    const close = domain.indexOf(']');
    if (close < 0) return 'unclosed "[" in an IPv6 address';
    host = domain.slice(0, close + 1);
    const after = domain.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return `unexpected "${after}" after the IPv6 address`;
      port = after.slice(1);
    }
    if (!IPV6_HOST.test(host)) return `invalid IPv6 address "${host}"`;
  } else {
    const c = domain.indexOf(':');
    if (c >= 0) {
      host = domain.slice(0, c);
      port = domain.slice(c + 1);
    }
    if (host === '') return 'empty host';
    for (const component of host.split('.')) {
      if (!DOMAIN_COMPONENT.test(component)) {
        return `invalid host "${host}" (a DNS name or IPv4 address, or an IPv6 address in brackets)`;
      }
    }
  }
  if (port !== undefined && !PORT.test(port)) return `invalid port "${port}" (digits only)`;
  return undefined;
}

/** Why `digest` is not a digest docker accepts, or undefined if it is. */
export function digestProblem(digest: string): string | undefined {
  const c = digest.indexOf(':');
  if (c <= 0) return 'expected algorithm:hex';
  const algorithm = digest.slice(0, c);
  const hex = digest.slice(c + 1);
  if (!DIGEST_ALGORITHM.test(algorithm)) return `invalid algorithm "${algorithm}"`;
  if (!HEX.test(hex)) return 'the digest is not hexadecimal';
  if (hex.length < 32) return 'the digest is shorter than 32 hex characters';
  const length = DIGEST_HEX_LENGTH[algorithm];
  if (length === undefined) return `unsupported digest algorithm "${algorithm}" (sha256, sha384 or sha512)`;
  if (hex.length !== length) return `a ${algorithm} digest has ${length} hex characters, not ${hex.length}`;
  if (hex !== hex.toLowerCase()) return `a ${algorithm} digest must be lowercase hex`;
  return undefined;
}

/** True if `digest` is `sha256:<64 lowercase hex>` (or sha384/sha512 of their lengths). */
export function isValidDigest(digest: string): boolean {
  return digestProblem(digest) === undefined;
}

/**
 * True for registries docker talks plain HTTP to without configuration: loopback ones
 * (127.0.0.0/8, ::1, localhost). `domain` may carry a port: `127.0.0.1:5000`, `[::1]:5000`.
 * docker resolves other names through DNS; berth does not, so only "localhost" counts by name.
 */
export function isInsecureByDefault(domain: string): boolean {
  let host: string;
  if (domain.startsWith('[')) {
    const close = domain.indexOf(']');
    if (close < 0) return false;
    host = domain.slice(1, close);
  } else if (domain.indexOf(':') !== domain.lastIndexOf(':')) {
    host = domain; // a bare IPv6 address
  } else {
    host = domain.split(':')[0] ?? '';
  }
  host = host.toLowerCase();
  if (host === 'localhost') return true;
  if (isLoopbackV4(host)) return true;
  if (host.includes(':')) {
    let normal: string;
    try {
      normal = new URL(`http://[${host}]/`).hostname; // compressed canonical form, e.g. [::1]
    } catch {
      return false;
    }
    if (normal === '[::1]') return true;
    // IPv4-mapped 127.x.y.z, canonically written [::ffff:7fxx:yyzz].
    return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(normal);
  }
  return false;
}

function isLoopbackV4(host: string): boolean {
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (m === null) return false;
  return m.slice(1).every((octet) => Number(octet) <= 255 && (octet === '0' || !octet.startsWith('0')));
}
