/** What the system routes (/info) see of the container side, apart from the Containers facade. */
export interface ContainerCounts {
  total: number;
  running: number;
  paused: number;
  stopped: number;
}

/** The container side of the engine, as the system routes see it (the container helpers extend it). */
export interface ContainerBackend {
  counts(): Promise<ContainerCounts>;
}
