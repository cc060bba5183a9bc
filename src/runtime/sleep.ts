/** Blocks the thread for `ms` milliseconds: the runtime's short waits on the kernel (a process to exit, a cgroup to freeze) happen outside any event loop work. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Waits `ms` milliseconds without blocking the event loop (the runtime's paths berthd calls). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
