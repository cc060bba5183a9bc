/**
 * Errors of the tar reader/writer: what failed, where in the archive (entry
 * name and/or byte offset) and why.
 */
export class TarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarError';
  }
}

/** "entry "NAME" at offset N" / "header at offset N", for error messages. */
export function where(offset: number, name?: string): string {
  return name !== undefined && name !== ''
    ? `entry ${JSON.stringify(name)} at offset ${offset}`
    : `header at offset ${offset}`;
}
