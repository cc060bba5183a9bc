/**
 * Errors of the network layer. The engine maps `kind` to its own errors (and so to HTTP status
 * codes): invalid 400, notfound 404, conflict 409, system 500. Messages say what, where and why,
 * in docker's words where docker has some.
 */
export type NetworkErrorKind = 'invalid' | 'notfound' | 'conflict' | 'system';

export class NetworkError extends Error {
  constructor(readonly kind: NetworkErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NetworkError';
  }
}
