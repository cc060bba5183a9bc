/**
 * The one place an error becomes an HTTP answer: the engine's kinds (src/engine/errors.ts) map to
 * docker's statuses, the body is docker's `{"message": "..."}`. Anything else is a 500 whose
 * message is the error's own (never a stack trace; the daemon's log has that).
 */
import {
  ConflictError, EngineError, ForbiddenError, InvalidParameterError, NotFoundError, NotModifiedError, UnauthorizedError,
} from '../engine/errors.ts';
import { imageError } from '../engine/images.ts';

export interface ErrorAnswer {
  status: number;
  message: string;
}

export function statusOf(e: unknown): number {
  if (e instanceof NotFoundError) return 404;
  if (e instanceof ConflictError) return 409;
  if (e instanceof InvalidParameterError) return 400;
  if (e instanceof UnauthorizedError) return 401;
  if (e instanceof ForbiddenError) return 403;
  if (e instanceof NotModifiedError) return 304;
  return 500;
}

/** The status and message docker would send for `e`. */
export function errorAnswer(e: unknown): ErrorAnswer {
  // an image-library error that reached the API without going through the engine's facade
  const err = e instanceof EngineError ? e : imageError(e);
  const message = err instanceof Error ? err.message : String(err);
  return { status: statusOf(err), message };
}
