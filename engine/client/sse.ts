/**
 * Server-sent events (the WHATWG event-stream format) read from a fetch body: the messages the
 * control plane's events route writes. No EventSource: Node has none, and the client decides itself
 * when to reconnect and from which id.
 */

export interface SseMessage {
  /** `event:`; 'message' when the message names none. */
  event: string;
  data: string;
  /** `id:` of this message, when it has one. */
  id?: string;
  /** `retry:` the server asks for, in ms. */
  retry?: number;
}

/** The messages of one event stream, in order, until it ends. Comments (`: keepalive`) are skipped. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncIterable<SseMessage> {
  const decoder = new TextDecoder();
  let buffer = '';
  let message: { event?: string; data: string[]; id?: string; retry?: number } = { data: [] };
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline = buffer.search(/\r\n|\r|\n/);
      // A '\r' last in the buffer may be the first half of a '\r\n' still on its way.
      while (newline !== -1 && !(newline === buffer.length - 1 && buffer.endsWith('\r'))) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (message.data.length > 0 || message.event !== undefined) {
            yield {
              event: message.event ?? 'message',
              data: message.data.join('\n'),
              ...(message.id === undefined ? {} : { id: message.id }),
              ...(message.retry === undefined ? {} : { retry: message.retry }),
            };
          } else if (message.retry !== undefined) {
            yield { event: 'retry', data: '', retry: message.retry };
          }
          message = { data: [] };
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          const raw = colon === -1 ? '' : line.slice(colon + 1);
          const value = raw.startsWith(' ') ? raw.slice(1) : raw;
          if (field === 'data') message.data.push(value);
          else if (field === 'event') message.event = value;
          else if (field === 'id') message.id = value;
          else if (field === 'retry' && /^\d+$/.test(value)) message.retry = Number(value);
        }
        newline = buffer.search(/\r\n|\r|\n/);
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
