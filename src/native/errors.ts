/**
 * An error a user can act on: what failed, where, and why (with the exit code a CLI should give).
 * Defined here, at the bottom of the stack, so that the native binding's errors are the same
 * class the runtime throws (src/runtime/errors.ts re-exports it).
 */
export class RuntimeError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'RuntimeError';
  }
}
