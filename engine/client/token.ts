/**
 * Which API token the CLI sends: `--token` (which sets DR_TOKEN for the command), else DR_TOKEN,
 * else the admin token `drctl up` wrote for its local user (`<state>/drorch/up/token.json`, mode
 * 0600) when it names the very control plane the command talks to, so that token never goes to
 * another server.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { isIP } from 'node:net';
import { homedir, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { DrError } from '../common/index.ts';

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
 * tls.ts caFileFor find them (0600, its folder 0700); the file written, or undefined when no
 * place is writable. A symlink in the file's place, or a folder that is a symlink, another user's
 * or writable by others (a planted /tmp folder), is refused: the token is never written through it.
 */
export function writeUpToken(
  server: string,
  token: string,
  env: NodeJS.ProcessEnv = process.env,
  ca?: string,
): string | undefined {
  const text = `${JSON.stringify({ server, token, ...(ca === undefined ? {} : { ca }), writtenAt: new Date().toISOString() })}\n`;
  for (const file of upTokenFiles(env)) {
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    } catch {
      continue; // not writable: the next
    }
    refuseUnsafeFolder(dirname(file));
    let fd: number;
    try {
      // O_NOFOLLOW: a symlink put in the file's place fails here (ELOOP) instead of being followed.
      fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw symlinkRefused(file);
      continue;
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile() || (typeof process.getuid === 'function' && stat.uid !== process.getuid())) {
        throw new DrError(
          'TOKEN_FILE_UNSAFE',
          `refusing to write the admin token to ${file}: it is not a regular file of this user; remove it and run again`,
          { exitCode: 1 },
        );
      }
      fchmodSync(fd, 0o600);
      ftruncateSync(fd, 0);
      writeSync(fd, text, 0);
    } finally {
      closeSync(fd);
    }
    return file;
  }
  return undefined;
}

function symlinkRefused(file: string): DrError {
  return new DrError(
    'TOKEN_FILE_SYMLINK',
    `refusing to write the admin token to ${file}: it is a symbolic link (the token would go where it points); remove it and run again`,
    { exitCode: 1 },
  );
}

function refuseUnsafeFolder(dir: string): void {
  const stat = lstatSync(dir);
  const mine = typeof process.getuid !== 'function' || stat.uid === process.getuid();
  if (stat.isSymbolicLink() || !stat.isDirectory() || !mine || (stat.mode & 0o022) !== 0) {
    throw new DrError(
      'TOKEN_FILE_UNSAFE',
      `refusing to write the admin token into ${dir}: it is ${stat.isSymbolicLink() ? 'a symbolic link' : !mine ? "another user's folder" : 'writable by others'}; remove it (or \`chmod 700\` it) and run again`,
      { exitCode: 1 },
    );
  }
}

/** Loopback: 127.0.0.0/8, ::1, localhost (what never leaves the machine). */
function loopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/**
 * `Authorization: Bearer <token>` for a call to `server`, or none without a token. A token never
 * goes over plain http to another machine (it would cross the network in clear): refused, exit 2.
 */
export function bearerHeader(server: string, token: string | undefined): Record<string, string> {
  if (token === undefined) return {};
  const url = new URL(server);
  if (url.protocol === 'http:' && !loopback(url.hostname)) {
    throw new DrError(
      'TOKEN_OVER_PLAIN_HTTP',
      `refusing to send an API token over plain http to ${url.host}: it would cross the network in clear; use the control plane's https URL (\`drctl serve\` prints it)`,
      { exitCode: 2 },
    );
  }
  return { authorization: `Bearer ${token}` };
}

function sameServer(saved: unknown, server: string): boolean {
  if (typeof saved !== 'string') return false;
  const norm = (url: string) => url.replace(/\/+$/, '').replace('//localhost:', '//127.0.0.1:');
  return norm(saved) === norm(server);
}
