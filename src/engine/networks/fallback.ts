/**
 * The plumbing a NetworkService has until the engine gives it the real one: docker's IPAM
 * choice made on the records alone (no bridge, no firewall, no DNS on the host). A subnet not
 * given is the first of docker's default local pools (172.17-31.0.0/16, then 192.168.0.0/16 in
 * /20 steps) that overlaps no other network; a gateway not given is the first address of the
 * ip range, or of the subnet.
 */
import { InvalidParameterError, NotFoundError } from '../errors.ts';
import { formatCidr, formatIp, lastOf, overlaps, parseCidr, type Cidr } from './addr.ts';
import { subnetsOf } from './validate.ts';
import type { NetworkPlumbing, NetworkRecord, PoolChoice, PoolRequest, PoolsChoice, PoolsRequest } from './types.ts';

/** ipamutils' PredefinedLocalScopeDefaultNetworks, in order */
export function defaultPools(): Cidr[] {
  const out: Cidr[] = [];
  for (let b = 17; b <= 31; b++) out.push(parseCidr(`172.${b}.0.0/16`)!);
  for (let c = 0; c < 256; c += 16) out.push(parseCidr(`192.168.${c}.0/20`)!);
  return out;
}

function choose(req: PoolRequest, subnet: Cidr): PoolChoice {
  const range = req.ipRange !== undefined ? parseCidr(req.ipRange) : undefined;
  const from = range ?? subnet;
  // the first address after the network address (an IPv4 /31 or /32 has none to skip)
  const first = from.base === subnet.base && !(subnet.family === 4 && subnet.prefix >= 31) ? from.base + 1n : from.base;
  if (first > lastOf(from)) throw new InvalidParameterError(`subnet ${formatCidr(subnet)} has no address for a gateway`);
  return {
    subnet: formatCidr(subnet),
    gateway: req.gateway ?? formatIp(subnet.family, first),
    ...(req.ipRange !== undefined && { ipRange: req.ipRange }),
    ...(req.auxAddresses && { auxAddresses: req.auxAddresses }),
  };
}

export class RecordPlumbing implements NetworkPlumbing {
  constructor(private readonly networks: () => readonly NetworkRecord[]) {}

  async create(rec: NetworkRecord, req: PoolsRequest): Promise<PoolsChoice> {
    const out: PoolsChoice = {};
    if (req.v4) {
      let subnet = req.v4.subnet !== undefined ? parseCidr(req.v4.subnet) : undefined;
      if (!subnet) {
        const taken = this.networks().filter((n) => n.id !== rec.id).flatMap(subnetsOf);
        subnet = defaultPools().find((p) => !taken.some((t) => overlaps(t, p)));
        if (!subnet) throw new NotFoundError('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
      }
      out.v4 = choose(req.v4, subnet);
    }
    if (req.v6) {
      const subnet = req.v6.subnet !== undefined ? parseCidr(req.v6.subnet) : undefined;
      if (!subnet) throw new NotFoundError('could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network');
      out.v6 = choose(req.v6, subnet);
    }
    return out;
  }

  async remove(): Promise<void> {
    // nothing was made on the host
  }
}
