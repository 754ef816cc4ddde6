import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DrError } from '../common/index.ts';

/** One clear line for a machine without Redis: what is missing and how to get it. */
export const NO_REDIS_MESSAGE =
  'No Redis: set REDIS_URL to a Redis >= 7, or install one (`docker compose up -d redis`, or the OS package `redis-server`, e.g. `apt-get install -y redis-server`).';

export class RedisUnavailableError extends DrError {
  constructor(detail?: string) {
    super('REDIS_UNAVAILABLE', detail ? `${NO_REDIS_MESSAGE} (${detail})` : NO_REDIS_MESSAGE);
    this.name = 'RedisUnavailableError';
  }
}

export interface PrivateRedisOptions {
  /**
   * Persist with an append-only file (fsync every second), as production does; needed by tests
   * that restart Redis mid-execution and expect the data back.
   * @defaultValue false
   */
  appendOnly?: boolean;
  /** Port to bind; a free one is chosen when omitted. */
  port?: number;
}

/** A redis-server child process owned by this process, with its own data folder. */
export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Kill the server (SIGKILL when `hard`, else SHUTDOWN semantics via SIGTERM). */
  kill(hard?: boolean): Promise<void>;
  /** Start the server again on the same port and data folder (after `kill`). */
  start(): Promise<void>;
  /** Kill, then start again. */
  restart(hard?: boolean): Promise<void>;
  /** Stop for good and remove the data folder. */
  stop(): Promise<void>;
}

export function redisServerAvailable(): boolean {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return probe.status === 0;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPing(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return;
    } catch (error) {
      lastError = error;
      client.disconnect();
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new RedisUnavailableError(`private redis-server did not answer on ${url}: ${String(lastError)}`);
}

/**
 * Private servers still running, killed with their folders removed when this process exits
 * (process.exit, the end of the event loop, a signal turned into an exit): a redis-server child
 * and its temporary folder must never outlive the process that started it.
 */
const running = new Map<string, () => void>();
let exitHooked = false;

function killOnExit(dir: string, kill: () => void): void {
  running.set(dir, kill);
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', () => {
    for (const stop of running.values()) stop();
    running.clear();
  });
}

/** Start a private redis-server on a free port, in a fresh temporary folder. */
export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  if (!redisServerAvailable()) throw new RedisUnavailableError('redis-server is not on PATH');
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'drorch-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.appendOnly ? 'yes' : 'no',
    '--appendfsync',
    'everysec',
    '--maxmemory-policy',
    'noeviction',
    '--protected-mode',
    'no',
    '--logfile',
    join(dir, 'redis.log'),
  ];

  const start = async (): Promise<void> => {
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    child = proc;
    proc.on('error', () => {});
    await waitForPing(url, 10_000);
  };

  const kill = async (hard = false): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  };

  killOnExit(dir, () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    await start();
  } catch (error) {
    await kill(true);
    rmSync(dir, { recursive: true, force: true });
    running.delete(dir);
    throw error;
  }
  return {
    url,
    port,
    dir,
    kill,
    start,
    restart: async (hard = false) => {
      await kill(hard);
      await start();
    },
    stop: async () => {
      await kill(true);
      rmSync(dir, { recursive: true, force: true });
      running.delete(dir);
    },
  };
}

/** REDIS_URL when set, else a private redis-server (stopped by the returned `release`). */
export async function acquireRedis(env: NodeJS.ProcessEnv = process.env): Promise<{
  url: string;
  release: () => Promise<void>;
  private?: PrivateRedis;
}> {
  const fromEnv = env.REDIS_URL;
  if (fromEnv) return { url: fromEnv, release: async () => {} };
  const server = await startPrivateRedis();
  return { url: server.url, release: () => server.stop(), private: server };
}
