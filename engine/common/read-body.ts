import type { IncomingMessage } from 'node:http';

/** The bodies the site lease's small listeners take (agent peer listener, arbiter): 16 KiB at most. */
export const SMALL_BODY_BYTES = 16 * 1024;

/** A request's body as text, refused (thrown) once it grows past `maxBytes`. */
export async function readSmallBody(request: IncomingMessage, maxBytes = SMALL_BODY_BYTES): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
