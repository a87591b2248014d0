import type { Response } from 'express';

/** Resolves true once the response can take more, false if the client went away first. */
function drained(res: Response): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/**
 * Writes a stream of chunks (a file decrypted as it is read) with
 * backpressure, and ends the response. A client that stops reading and goes
 * away would otherwise leave the handler waiting for a 'drain' that never
 * comes; here the loop stops, and so does the decryption feeding it.
 */
export async function sendChunks(res: Response, chunks: AsyncIterable<Uint8Array>): Promise<boolean> {
  for await (const chunk of chunks) {
    if (res.destroyed) return false;
    if (!res.write(chunk) && !(await drained(res))) return false;
  }
  res.end();
  return true;
}
