/** `docker rename OLD NEW`: the name index and the record, docker's conflict on a taken name. */
import { InvalidParameterError } from '../errors.ts';
import type { ContainerContext } from './context.ts';
import { normalizeName, type Loaded } from './store.ts';

export async function renameContainer(ctx: ContainerContext, l: Loaded, newName: string): Promise<void> {
  if (newName === '') throw new InvalidParameterError('Neither old nor new names may be empty');
  const name = normalizeName(newName);
  const { rec } = l;
  if (name === rec.name) throw new InvalidParameterError('Renaming a container with the same name as its current name');
  ctx.store.reserveName(name, rec.id);
  const old = rec.name;
  rec.name = name;
  try {
    await ctx.store.save(rec.id);
  } catch (e) {
    rec.name = old;
    ctx.store.releaseName(name, rec.id);
    throw e;
  }
  ctx.store.releaseName(old, rec.id);
}
