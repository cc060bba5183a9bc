/** v1 hugetlb controller: hugetlb.<size>.limit_in_bytes per page size ("2MB", "1GB"). */
import { readdirSync } from 'node:fs';
import type { Controller, Stats } from '../controller.ts';
import type { Resources } from '../../spec/types.ts';
import { has, write } from '../files.ts';
import { readNumber } from './files.ts';

/** The page sizes this cgroup has files for, from the names of hugetlb.<size>.limit_in_bytes. */
function pageSizes(dir: string): string[] {
  try {
    return readdirSync(dir).map((f) => /^hugetlb\.([^.]+)\.limit_in_bytes$/.exec(f)?.[1]).filter((s): s is string => !!s);
  } catch {
    return [];
  }
}

function apply(dir: string, res: Resources): string[] {
  for (const h of res.hugepageLimits ?? []) {
    const file = `hugetlb.${h.pageSize}.limit_in_bytes`;
    if (!has(dir, file)) {
      throw new Error(`hugepageLimits: page size "${h.pageSize}" is not one of this kernel's (${pageSizes(dir).join(', ') || 'none'}): no ${file}`);
    }
    write(dir, file, h.limit);
  }
  return [];
}

function stats(dir: string, into: Stats): void {
  const sizes = pageSizes(dir);
  if (!sizes.length) return;
  const out: NonNullable<Stats['hugetlb']> = {};
  for (const size of sizes) {
    out[size] = {
      usage: readNumber(dir, `hugetlb.${size}.usage_in_bytes`) ?? 0,
      max: readNumber(dir, `hugetlb.${size}.max_usage_in_bytes`) ?? 0,
      failcnt: readNumber(dir, `hugetlb.${size}.failcnt`) ?? 0,
    };
  }
  into.hugetlb = out;
}

export const hugetlb: Controller = { name: 'hugetlb', apply, stats };
