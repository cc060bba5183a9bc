/** v1 rdma controller: rdma.max, one "DEVICE hca_handle=N hca_object=N" line per device. */
import type { Controller } from '../controller.ts';
import type { Resources } from '../../spec/types.ts';
import { write } from '../files.ts';

function apply(dir: string, res: Resources): string[] {
  for (const [device, lim] of Object.entries(res.rdma ?? {})) {
    const parts = [device];
    if (lim.hcaHandles !== undefined) parts.push(`hca_handle=${lim.hcaHandles}`);
    if (lim.hcaObjects !== undefined) parts.push(`hca_object=${lim.hcaObjects}`);
    if (parts.length > 1) write(dir, 'rdma.max', parts.join(' '));
  }
  return [];
}

export const rdma: Controller = { name: 'rdma', apply };
