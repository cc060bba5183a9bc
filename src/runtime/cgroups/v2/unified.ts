/**
 * The spec's `unified` map (cgroup v2 only): each key is an interface file of the container's
 * cgroup, each value is written to it (a multi-line value one line per write, as runc does).
 * A key must be a plain "controller.parameter" file name, and its controller must be enabled for
 * the cgroup; anything else is refused with an error that says which.
 */
import type { Resources } from '../../spec/types.ts';
import type { Controller } from '../controller.ts';
import { has, write } from '../files.ts';
import { enabledControllers } from './files.ts';

/** Core files that would move processes or change the tree: never settable through the spec. */
const REFUSED = new Set(['cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control', 'cgroup.type', 'cgroup.kill', 'cgroup.freeze']);

export const unified: Controller = {
  // not a kernel controller: applies wherever the container has a v2 directory
  name: 'unified',

  apply(dir: string, res: Resources): string[] {
    const entries = Object.entries(res.unified ?? {});
    if (!entries.length) return [];
    const enabled = new Set(enabledControllers(dir));
    // check every key before writing any
    for (const [key, value] of entries) {
      if (key.includes('/') || key.includes('..') || key.includes('\0')) {
        throw new Error(`unified: "${key}" must be a file name of the cgroup (no "/" or "..")`);
      }
      const dot = key.indexOf('.');
      if (dot <= 0 || dot === key.length - 1) throw new Error(`unified: "${key}" must be in the form controller.parameter (such as memory.high)`);
      if (REFUSED.has(key)) throw new Error(`unified: "${key}" is managed by the runtime and cannot be set through the spec`);
      const controller = key.slice(0, dot);
      if (controller !== 'cgroup' && !enabled.has(controller)) {
        throw new Error(`unified: "${key}" cannot be set: the ${controller} controller is not enabled for this cgroup (enabled: ${[...enabled].join(' ') || 'none'})`);
      }
      if (!has(dir, key)) throw new Error(`unified: "${key}" cannot be set: ${dir}/${key} does not exist`);
      // an empty write means 0 to some files (memory.swap.max): refuse it rather than guess
      if (value.trim() === '') throw new Error(`unified: "${key}" has an empty value`);
    }
    for (const [key, value] of entries) {
      for (const line of value.split('\n').filter((l) => l.trim() !== '')) write(dir, key, line);
    }
    return [];
  },
};
