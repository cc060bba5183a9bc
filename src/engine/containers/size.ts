/** The size of a container's writable layer: what `ps -s`, `system df` and prune report. */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes under `dir` (files' sizes, directories not counted, hard links once), 0 when it is gone. */
export async function dirSize(dir: string, seen = new Set<string>()): Promise<number> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let total = 0;
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await dirSize(p, seen);
    else {
      try {
        const st = await lstat(p);
        const key = `${st.dev}:${st.ino}`;
        if (st.nlink > 1 && seen.has(key)) continue;
        seen.add(key);
        total += st.size;
      } catch { /* removed meanwhile */ }
    }
  }
  return total;
}
