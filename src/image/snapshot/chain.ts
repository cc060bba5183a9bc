/**
 * Chain IDs (OCI image spec, config.md "Layer ChainID"): ChainID(L0) = DiffID(L0),
 * ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)). A chain ID names a layer together with
 * every layer below it, so equal chain IDs mean equal unpacked stacks.
 */
import { digestOf, parseDigest, type Digest } from '../store/digest.ts';

/** Chain ID of every prefix of `diffIds` (bottom layer first). */
export function chainIds(diffIds: readonly string[]): Digest[] {
  const out: Digest[] = [];
  let prev: Digest | undefined;
  diffIds.forEach((d, i) => {
    const diff = parseDigest(d, `diffId of layer ${i}`);
    prev = prev === undefined ? diff : digestOf(`${prev} ${diff}`);
    out.push(prev);
  });
  return out;
}

/** Chain ID of the whole stack `diffIds` (its top layer). */
export function chainId(diffIds: readonly string[]): Digest {
  const ids = chainIds(diffIds);
  const top = ids[ids.length - 1];
  if (top === undefined) throw new Error('chain ID of an empty layer list');
  return top;
}
