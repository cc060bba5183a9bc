/**
 * `docker network connect|disconnect`: an endpoint added to or taken from a container's record
 * (its address leased or released), and, while it runs, plugged into or out of its sandbox.
 */
import { ForbiddenError, InvalidParameterError, NotFoundError } from '../errors.ts';
import type { NetworkRecord } from '../networks/types.ts';
import type { ContainerContext } from './context.ts';
import { containerMode } from './netmodes.ts';
import { netView } from './start.ts';
import type { Loaded } from './store.ts';
import type { EndpointSettingsRequest } from './types.ts';

export async function connectContainer(ctx: ContainerContext, l: Loaded, net: NetworkRecord, cfg: EndpointSettingsRequest): Promise<void> {
  const { rec, hostConfig } = l;
  const mode = hostConfig.NetworkMode ?? '';
  if (mode === 'host' || net.driver === 'host') throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
  if (mode === 'none' || net.driver === 'null') throw new ForbiddenError('container cannot be connected to multiple networks with one of the networks in private (none) mode');
  if (containerMode(mode) !== undefined) throw new ForbiddenError('container sharing network namespace with another container or host cannot be connected to any other network');
  const eps = rec.endpoints ?? [];
  if (eps.some((e) => e.networkId === net.id)) throw new ForbiddenError(`endpoint with name ${rec.name.slice(1)} already exists in network ${net.name}`);
  if (rec.state.Status === 'removing' || rec.state.Status === 'dead') throw new InvalidParameterError(`container ${rec.id} is marked for removal`);
  const ifnames = new Set(eps.map((e) => e.ifname));
  let n = 0;
  while (ifnames.has(`eth${n}`)) n++;
  const ep = await ctx.net.attach(rec.id, net, `eth${n}`, {
    ...(cfg.Aliases && { aliases: cfg.Aliases }),
    ...(cfg.IPAMConfig?.IPv4Address && { v4: cfg.IPAMConfig.IPv4Address }),
    ...(cfg.IPAMConfig?.IPv6Address && { v6: cfg.IPAMConfig.IPv6Address }),
    ...(cfg.MacAddress && { mac: cfg.MacAddress }),
  });
  try {
    if (rec.state.Running && rec.sandboxKey) await ctx.net.plugLive({ ...netView(rec, hostConfig), endpoints: [...eps, ep] }, ep, rec.sandboxKey);
    rec.endpoints = [...eps, ep];
    await ctx.store.save(rec.id);
  } catch (e) {
    rec.endpoints = eps;
    if (rec.state.Running && rec.sandboxKey) await ctx.net.unplugLive(rec.id, ep).catch(() => undefined);
    await ctx.net.detach(rec.id, [ep]).catch(() => undefined);
    throw e;
  }
  ctx.events.log('network', 'connect', net.id, { container: rec.id, name: net.name, type: net.driver });
}

export async function disconnectContainer(ctx: ContainerContext, l: Loaded, net: NetworkRecord, force: boolean): Promise<void> {
  const { rec } = l;
  void force;
  const mode = l.hostConfig.NetworkMode ?? '';
  if (mode === 'host' || net.driver === 'host') throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
  const eps = rec.endpoints ?? [];
  const ep = eps.find((e) => e.networkId === net.id);
  if (!ep) throw new NotFoundError(`container ${rec.id} is not connected to network ${net.name}`);
  if (rec.state.Running && rec.sandboxKey) await ctx.net.unplugLive(rec.id, ep);
  rec.endpoints = eps.filter((e) => e !== ep);
  await ctx.store.save(rec.id);
  await ctx.net.detach(rec.id, [ep]);
  ctx.events.log('network', 'disconnect', net.id, { container: rec.id, name: net.name, type: net.driver });
}
