/**
 * A token's long-lived answers (the events' server-sent streams) end with the token: within a
 * second of its revocation (revokeToken publishes on `<prefix>:auth:events`, every control plane
 * listens) and at its expiry (a timer per stream). A token is checked at each request; a stream
 * is one request that lasts, so it is checked again at these two moments.
 */
import type { ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { Logger } from '../../common/index.ts';
import type { TokenRecord } from './tokens.ts';

export const tokenEventsChannel = (prefix: string): string => `${prefix}:auth:events`;

/** setTimeout's largest delay (about 24.8 days); a later expiry re-arms. */
const MAX_TIMER_MS = 2_147_483_647;

export interface TokenStreams {
  /** End `raw` when `token` is revoked or expires. */
  track(token: TokenRecord, raw: ServerResponse): void;
  /** Open streams per token id (tests). */
  open(id: string): number;
  close(): Promise<void>;
}

export function createTokenStreams(options: { redis: Redis; prefix: string; log: Logger }): TokenStreams {
  const byToken = new Map<string, Set<ServerResponse>>();
  let subscriber: Redis | undefined;
  const end = (raw: ServerResponse): void => {
    // The socket itself: a stream has no end of its own to wait for.
    raw.destroy();
  };
  const listen = (): void => {
    if (subscriber !== undefined) return;
    subscriber = options.redis.duplicate({ lazyConnect: false, maxRetriesPerRequest: null });
    subscriber.on('error', (error: Error) =>
      options.log.warn({ err: error.message }, 'token events connection error'),
    );
    subscriber.on('message', (_channel: string, message: string) => {
      let id: unknown;
      try {
        id = (JSON.parse(message) as { revoked?: unknown }).revoked;
      } catch {
        return;
      }
      if (typeof id !== 'string') return;
      const open = byToken.get(id);
      if (open === undefined) return;
      options.log.info({ token: id, streams: open.size }, 'token revoked: closing its streams');
      for (const raw of open) end(raw);
    });
    void subscriber
      .subscribe(tokenEventsChannel(options.prefix))
      .catch((error: Error) => options.log.warn({ err: error.message }, 'token events not subscribed'));
  };
  // Subscribed from the start: a revocation is heard before the first stream opens.
  listen();
  return {
    track: (token, raw) => {
      let open = byToken.get(token.id);
      if (open === undefined) {
        open = new Set();
        byToken.set(token.id, open);
      }
      open.add(raw);
      let timer: NodeJS.Timeout | undefined;
      const arm = (): void => {
        if (token.expiresAt === undefined) return;
        const left = Date.parse(token.expiresAt) - Date.now();
        if (left <= 0) {
          end(raw);
          return;
        }
        timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
        timer.unref();
      };
      arm();
      raw.once('close', () => {
        clearTimeout(timer);
        open.delete(raw);
        if (open.size === 0) byToken.delete(token.id);
      });
    },
    open: (id) => byToken.get(id)?.size ?? 0,
    close: async () => {
      byToken.clear();
      subscriber?.disconnect();
      subscriber = undefined;
    },
  };
}
