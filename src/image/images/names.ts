/**
 * Names as docker shows them: refs.json holds normalised names (`docker.io/library/busybox:latest`);
 * the API and the CLI show familiar ones (`busybox:latest`), RepoDigests as `repo@digest`.
 */
import { parseReference } from '../reference.ts';
import type { LocalImage } from './load.ts';

/** `busybox:latest` for `docker.io/library/busybox:latest`. */
export const familiar = (name: string): string => parseReference(name).familiar();

/** The familiar repository of a name: `busybox`, `127.0.0.1:5000/test/app`. */
export const familiarRepo = (name: string): string => parseReference(name).familiarName();

/** Names that carry a tag (the others are `repo@digest` names, pulled by digest). */
export const isTagName = (name: string): boolean => parseReference(name).tag !== undefined;

/** docker's RepoTags. */
export function repoTags(img: LocalImage): string[] {
  return img.names.filter(isTagName).map(familiar);
}

/** The digest a repository names the image by: the index it was pulled through, else its manifest. */
export const repoDigestOf = (img: LocalImage): string => img.record.indexDigest ?? img.digest;

/** docker's RepoDigests: `repo@digest` for every repository the image has a name in. */
export function repoDigests(img: LocalImage): string[] {
  const out = new Set<string>();
  for (const n of img.names) {
    const r = parseReference(n);
    out.add(r.digest !== undefined && r.tag === undefined ? r.familiar() : `${r.familiarName()}@${repoDigestOf(img)}`);
  }
  return [...out].sort();
}

/**
 * docker's isSingleReference: at most one tag, and every name in one repository. Removing such
 * an image's reference would leave it dangling, which is why docker wants -f when a container
 * uses it.
 */
export function isSingleReference(names: readonly string[]): boolean {
  if (names.length === 0) return false;
  const repos = new Set(names.map((n) => parseReference(n).repository()));
  return repos.size === 1 && names.filter(isTagName).length <= 1;
}
