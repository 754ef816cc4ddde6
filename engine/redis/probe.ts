/**
 * One PING before a command uses Redis, so a Redis that is missing or unreachable is one clear
 * line that says which of the two it is and what to check (not "install Redis" to someone whose
 * REDIS_URL points at a server that is down).
 */
import { Redis } from 'ioredis';
import { DrError } from '../common/index.ts';
import { NO_REDIS_MESSAGE } from './private-server.ts';

/** The URL without its password, fit to print. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** What went wrong reaching the Redis at `url`, and what to check, in one line. */
export function describeRedisFailure(url: string, error: unknown): string {
  const shown = redactRedisUrl(url);
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ECONNREFUSED')
    return `connection refused at ${shown} (REDIS_URL): nothing listens there; check that redis-server runs on that host and port (\`redis-cli -u ${shown} ping\`) or fix REDIS_URL`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `cannot resolve the host of ${shown} (REDIS_URL): check the host name in REDIS_URL`;
  if (code === 'ETIMEDOUT' || /timeout/i.test(message))
    return `no answer from Redis at ${shown} (REDIS_URL) in time: check the host, the port and any firewall between`;
  if (/NOAUTH|WRONGPASS|invalid password|invalid username/i.test(message))
    return `Redis at ${shown} (REDIS_URL) refused the credentials: check the user and password in REDIS_URL`;
  return `cannot use Redis at ${shown} (REDIS_URL): ${message}`;
}

/**
 * REDIS_URL, checked with one PING. Not set: how to get a Redis. Set but unusable: why (refused,
 * unknown host, no answer, credentials) and what to check. Both are DrErrors (exit 1).
 */
export async function checkRedisUrl(url: string | undefined): Promise<string> {
  if (url === undefined || url === '')
    throw new DrError('NO_REDIS', `${NO_REDIS_MESSAGE} (REDIS_URL is not set)`);
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 3000,
  });
  let cause: unknown;
  probe.on('error', (error: unknown) => {
    cause ??= error;
  });
  try {
    await probe.connect();
    await probe.ping();
    return url;
  } catch (error) {
    // ioredis rejects with "Connection is closed." and reports the socket's own error
    // (ECONNREFUSED...) as an event around it.
    if (cause === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    throw new DrError('REDIS_UNREACHABLE', describeRedisFailure(url, cause ?? error), {
      cause: cause ?? error,
    });
  } finally {
    probe.disconnect();
  }
}
