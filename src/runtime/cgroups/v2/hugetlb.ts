/**
 * cgroup v2 hugetlb: each hugepageLimits entry → hugetlb.<size>.max (and hugetlb.<size>.rsvd.max,
 * which also limits reservations, where the kernel has it, as runc does). On a hybrid machine the
 * controller is on v2 only while no v1 hugetlb hierarchy exists.
 */
import { readdirSync } from 'node:fs';
import type { Resources } from '../../spec/types.ts';
import type { Controller, Stats } from '../controller.ts';
import { has, write } from '../files.ts';
import { checkInt, readKeyed, readValue } from './files.ts';

const PAGE_SIZE = /^\d+(KB|MB|GB)$/;

/** The page sizes this cgroup offers (from its hugetlb.<size>.max files). */
export function pageSizes(dir: string): string[] {
  try {
    return readdirSync(dir).map((f) => /^hugetlb\.(\d+[KMG]B)\.max$/.exec(f)?.[1]).filter((s): s is string => !!s);
  } catch {
    return [];
  }
}

export const hugetlb: Controller = {
  name: 'hugetlb',

  apply(dir: string, res: Resources): string[] {
    const warnings: string[] = [];
    for (const h of res.hugepageLimits ?? []) {
      if (!PAGE_SIZE.test(h.pageSize)) throw new Error(`hugepageLimits: page size "${h.pageSize}" is not like 2MB or 1GB`);
      checkInt(`hugepageLimits ${h.pageSize} limit`, h.limit, 0);
      const file = `hugetlb.${h.pageSize}.max`;
      if (!has(dir, file)) {
        const sizes = pageSizes(dir);
        warnings.push(`cgroup v2: hugepageLimits ${h.pageSize} ignored: ${file} does not exist (${sizes.length ? `page sizes here: ${sizes.join(', ')}` : 'the hugetlb controller is not enabled for this cgroup'})`);
        continue;
      }
      write(dir, file, String(h.limit));
      const rsvd = `hugetlb.${h.pageSize}.rsvd.max`;
      if (has(dir, rsvd)) write(dir, rsvd, String(h.limit));
    }
    return warnings;
  },

  stats(dir: string, into: Stats): void {
    const sizes = pageSizes(dir);
    if (!sizes.length) return;
    const out: NonNullable<Stats['hugetlb']> = {};
    for (const size of sizes) {
      out[size] = {
        usage: readValue(dir, `hugetlb.${size}.current`) ?? 0,
        // v2 keeps no peak
        max: 0,
        failcnt: readKeyed(dir, `hugetlb.${size}.events`)?.max ?? 0,
      };
    }
    into.hugetlb = out;
  },
};
