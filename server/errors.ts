/**
 * Typed HTTP errors. `code` names a message in the locale files
 * (errors.<code>.title / errors.<code>.body); nothing else about an error
 * ever reaches the browser.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(code);
    this.name = 'HttpError';
  }
}

export const badRequest = (code = 'bad_request') => new HttpError(400, code);
/** The code names the error page (errors.<code> in the locale files): always given. */
export const forbidden = (code: 'csrf' | 'role') => new HttpError(403, code);
export const notFound = (code = 'not_found') => new HttpError(404, code);
export const payloadTooLarge = (code = 'too_large') => new HttpError(413, code);
export const tooManyRequests = (retryAfterSeconds: number) => new HttpError(429, 'too_many_requests', retryAfterSeconds);
export const notReady = () => new HttpError(503, 'not_ready');
/** The database is away (restarting, unreachable, too slow, out of disk): try again shortly. */
export const databaseUnavailable = () => new HttpError(503, 'unavailable', 30);
/** The process is stopping: what was being sent is discarded, and can be sent again in a moment. */
export const shuttingDown = () => new HttpError(503, 'shutting_down', 30);
/** Too little disk left to store more safely (the embedded database would stall on a full disk). */
export const insufficientStorage = () => new HttpError(507, 'disk_full', 600);
