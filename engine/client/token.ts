/**
 * Which API token the CLI sends: `--token` (which sets DR_TOKEN for the command), else DR_TOKEN,
 * else the admin token `drctl up` wrote for its local user (`<state>/drorch/up/token.json`, mode
 * 0600) when it names the very control plane the command talks to, so that token never goes to
 * another server.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

function user(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** The files `drctl up` may have written its token to, best first (as crash-log.ts's state folders). */
export function upTokenFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const state = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return [join(state, 'drorch', 'up', 'token.json'), join(tmpdir(), `drorch-${user()}`, 'up', 'token.json')];
}

/** What `drctl up` saved for `server` (its token, its CA file), when it saved it for `server`. */
export function upSaved(
  server: string,
  env: NodeJS.ProcessEnv = process.env,
): { token?: unknown; ca?: unknown } | undefined {
  for (const file of upTokenFiles(env)) {
    try {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as {
        server?: unknown;
        token?: unknown;
        ca?: unknown;
      };
      if (sameServer(saved.server, server)) return saved;
    } catch {
      // none there, or not ours: the next
    }
  }
  return undefined;
}

/** The token for `server`: DR_TOKEN, else up's when it was written for `server`; else none. */
export function tokenFor(server: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const named = env.DR_TOKEN?.trim();
  if (named !== undefined && named !== '') return named;
  const token = upSaved(server, env)?.token;
  return typeof token === 'string' ? token : undefined;
}

/**
 * Write up's token (and the CA file its HTTPS server is trusted by) where tokenFor and
 * tls.ts caFileFor find them (0600, its folder 0700); the file written, or undefined.
 */
export function writeUpToken(
  server: string,
  token: string,
  env: NodeJS.ProcessEnv = process.env,
  ca?: string,
): string | undefined {
  for (const file of upTokenFiles(env)) {
    try {
      mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
      writeFileSync(
        file,
        `${JSON.stringify({ server, token, ...(ca === undefined ? {} : { ca }), writtenAt: new Date().toISOString() })}\n`,
        {
          mode: 0o600,
        },
      );
      chmodSync(file, 0o600);
      return file;
    } catch {
      // not writable: the next
    }
  }
  return undefined;
}

function sameServer(saved: unknown, server: string): boolean {
  if (typeof saved !== 'string') return false;
  const norm = (url: string) => url.replace(/\/+$/, '').replace('//localhost:', '//127.0.0.1:');
  return norm(saved) === norm(server);
}
