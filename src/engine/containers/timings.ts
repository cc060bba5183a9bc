/**
 * The engine's own clocks on a container's create -> start path, kept in its record so that
 * `explain` can say how long each part took (the runtime's trace covers what happens inside
 * berth-init; these cover what berthd does around it).
 */

/** Milliseconds since the epoch, with the sub-millisecond part (the clock the runtime's trace uses). */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface ContainerTimings {
  /** epoch ms when create began, and how long each of its phases took (ms), in order */
  createAt?: number;
  create?: Record<string, number>;
  /** the same for the latest start */
  startAt?: number;
  start?: Record<string, number>;
  /** the network's own steps in the latest start (sandbox, endpoints, ports), which overlap the runtime's create */
  network?: Record<string, number>;
}

/** Phases measured back to back: each mark() closes the phase that ran since the previous one. */
export class PhaseClock {
  readonly at = epochMs();
  readonly phases: Record<string, number> = {};
  #last = performance.now();

  mark(name: string): void {
    const now = performance.now();
    this.phases[name] = Math.round((now - this.#last) * 1000) / 1000;
    this.#last = now;
  }
}
