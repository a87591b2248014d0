import type { Request } from 'express';
import busboy from 'busboy';
import type { Readable } from 'node:stream';
import { HttpError, badRequest, payloadTooLarge, shuttingDown } from '../errors.js';
import { streamedCsrfCheck } from './csrf.js';

export type FileInfo = { filename: string; mimeType: string };
export type FileHandler = (file: AsyncIterable<Uint8Array>, info: FileInfo, fields: FormFields) => Promise<void>;

export type MultipartLimits = {
  fieldBytes: number;
  fields: number;
  files: number;
  /** Whole request body, files included. */
  totalBytes: number;
};

/** A form's fields: every value of each name (a null-prototype map, see addField). */
export type FormFields = Record<string, string[]>;

/**
 * Streams a multipart form into `fields` (owned by the caller, so it can
 * re-show what the reporter typed even when the upload fails) through busboy. Fields are collected (browsers
 * send them in document order, so the forms put file inputs last and every
 * field is known before the first file arrives); each file is handed to
 * `onFile` in turn as a stream. After the first error the rest of the body
 * is read and discarded, so the browser receives the error page instead of a
 * reset connection; a body past `totalBytes` is cut off.
 */
export function parseMultipart(
  req: Request,
  limits: MultipartLimits,
  fields: FormFields,
  onFile: FileHandler,
  opts: { stopping?: AbortSignal; deadlineMs?: number } = {},
): Promise<{ fields: FormFields; files: number }> {
  const { stopping, deadlineMs } = opts;
  return new Promise((resolve, reject) => {
    if (stopping?.aborted) return reject(shuttingDown());
    // The token is the first part (csrfFirstPart on the route line): checked
    // before the first file reaches onFile, or at the end.
    let checkCsrf: () => void;
    try {
      checkCsrf = streamedCsrfCheck(req, () => flatFields(fields));
    } catch (err) {
      return reject(err);
    }
    const type = req.headers['content-type'] ?? '';
    if (!type.toLowerCase().startsWith('multipart/form-data')) return reject(badRequest('bad_form'));
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limits.totalBytes) return reject(payloadTooLarge('upload_too_large'));

    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        limits: { fieldSize: limits.fieldBytes, fields: limits.fields, files: limits.files, parts: limits.fields + limits.files },
      });
    } catch {
      return reject(badRequest('bad_form'));
    }

    let files = 0;
    let failure: unknown = null;
    let queue: Promise<void> = Promise.resolve();
    const fail = (err: unknown) => {
      failure ??= err;
    };

    // Nothing thrown in a busboy listener may escape: it would be an
    // uncaught exception in an event emitter, and end the process.
    const guarded =
      <A extends unknown[]>(listener: (...args: A) => void) =>
      (...args: A) => {
        try {
          listener(...args);
        } catch (err) {
          fail(err);
        }
      };

    bb.on(
      'field',
      guarded((name: string, value: string, info: busboy.FieldInfo) => {
        if (info.valueTruncated) return fail(new HttpError(413, 'field_too_long'));
        if (info.nameTruncated) return fail(badRequest('bad_form'));
        addField(fields, name, value);
      }),
    );
    bb.on(
      'file',
      guarded((_name: string, stream: Readable, info: busboy.FileInfo) => {
        // A file input left empty still sends a part with no file name.
        if (!info.filename || failure) {
          stream.resume();
          return;
        }
        files++;
        const current = { filename: info.filename, mimeType: info.mimeType };
        queue = queue.then(async () => {
          if (failure) {
            stream.resume();
            return;
          }
          try {
            // A handler that stops early (a limit, a bad type) must not destroy
            // busboy's stream, or busboy would wait for it forever: the rest is
            // drained below instead.
            checkCsrf();
            await onFile(stream.iterator({ destroyOnReturn: false }), current, fields);
          } catch (err) {
            fail(err);
          }
          stream.resume(); // drain whatever the handler did not read
        });
      }),
    );
    bb.on('filesLimit', () => fail(payloadTooLarge('too_many_files')));
    bb.on('fieldsLimit', () => fail(payloadTooLarge('too_many_fields')));
    bb.on('partsLimit', () => fail(payloadTooLarge('too_many_fields')));
    bb.on('error', () => {
      fail(badRequest('bad_form'));
      req.unpipe(bb);
      req.resume();
      queue.then(() => reject(failure));
    });
    bb.on('close', () => {
      queue.then(() => {
        if (!failure) {
          try {
            checkCsrf();
          } catch (err) {
            fail(err);
          }
        }
        if (failure) reject(failure);
        else resolve({ fields, files });
      });
    });

    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limits.totalBytes) {
        fail(payloadTooLarge('upload_too_large'));
        req.unpipe(bb);
        req.pause();
        queue.then(() => reject(failure));
      }
    });
    // A client that goes away (or the server's request timeout) ends the
    // request without an end to the body: busboy would wait for it forever.
    // Destroying busboy errors the file being read, so the handler stops and
    // deletes what it wrote, and the promise settles.
    req.on('close', () => {
      if (req.complete) return;
      fail(badRequest('aborted'));
      bb.destroy(new Error('request aborted'));
    });
    // The process is stopping: the upload cannot finish within the grace
    // period, so it ends now with a "try again" page; destroying busboy makes
    // the file handler delete what it wrote. The rest of the body is not read.
    const onStop = () => {
      fail(shuttingDown());
      req.unpipe(bb);
      bb.destroy(shuttingDown());
      queue.then(() => reject(failure));
    };
    stopping?.addEventListener('abort', onStop, { once: true });
    // The whole upload has REQUEST_TIMEOUT_SECONDS (Node's own requestTimeout
    // does not cover a body that is still arriving after the request began):
    // past it, the same ending, with a "took too long" page.
    const deadline = deadlineMs
      ? setTimeout(() => {
          fail(new HttpError(408, 'upload_timeout'));
          req.unpipe(bb);
          bb.destroy(new Error('upload took too long'));
          queue.then(() => reject(failure));
        }, deadlineMs)
      : null;
    bb.once('close', () => {
      stopping?.removeEventListener('abort', onStop);
      if (deadline) clearTimeout(deadline);
    });
    req.pipe(bb);
  });
}

/**
 * Adds one value to a map of fields filled from input. Defined, not
 * assigned: on an ordinary object `fields['__proto__'] = …` would replace
 * its prototype, and `fields['constructor']` finds Object's function.
 */
export function addField(fields: FormFields, name: string, value: string): void {
  if (Object.hasOwn(fields, name)) fields[name]!.push(value);
  else Object.defineProperty(fields, name, { value: [value], enumerable: true, writable: true, configurable: true });
}

/** First value of each field, for code that wants a flat body (the CSRF check). */
export function flatFields(fields: FormFields): Record<string, string> {
  return Object.assign(Object.create(null), Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v[0] ?? ''])));
}
