/**
 * The engine's error kinds. Each says what failed in docker's words (the API sends the message
 * as it is); the API layer maps the kind to an HTTP status in one place (src/api/errors.ts):
 * NotFound 404, Conflict 409, InvalidParameter 400, Unauthorized 401, Forbidden 403,
 * NotModified 304, anything else 500.
 */
export class EngineError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** `No such image: busybox:latest`, `No such container: web` */
export class NotFoundError extends EngineError {}

/** a name in use, an image used by a container, a running container removed without force */
export class ConflictError extends EngineError {}

/** bad input: a malformed reference, an unknown filter, a bad body */
export class InvalidParameterError extends EngineError {}

/** a registry refused the credentials (`POST /auth`) */
export class UnauthorizedError extends EngineError {}

/** allowed by the API but refused by policy */
export class ForbiddenError extends EngineError {}

/** the state asked for is already the state (start of a running container) */
export class NotModifiedError extends EngineError {}

/** the engine failed on its side (disk, runtime, a bug): 500 */
export class SystemError extends EngineError {}
