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
export const tooManyRequests = (retryAfterSeconds: number) =>
  new HttpError(429, 'too_many_requests', retryAfterSeconds);
export const notReady = () => new HttpError(503, 'not_ready');
