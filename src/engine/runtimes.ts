/** The built-in runtime: berth-oci as a library, in berthd's process. */
export const BUILTIN_RUNTIME = 'berth-oci';
