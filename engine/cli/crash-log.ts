/**
 * What a user sees of an error the CLI did not expect (anything but a DrError or a usage error):
 * one line with the message and where the details went, never a stack trace. The stack, the
 * command line and the causes go to a log file: $XDG_STATE_HOME/drorch/drctl.log (XDG's default
 * ~/.local/state when unset), or <tmpdir>/drorch-<user>/drctl.log when that cannot be written.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';

function user(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** drctl's state folders, best first: $XDG_STATE_HOME/drorch (XDG's default ~/.local/state), then <tmpdir>/drorch-<user>. */
export function stateDirCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const state = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return [join(state, 'drorch'), join(tmpdir(), `drorch-${user()}`)];
}

/** Where the details of unexpected errors go, best first. */
export function crashLogCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  return stateDirCandidates(env).map((dir) => join(dir, 'drctl.log'));
}

/** Options whose value is a credential: never written to the log. */
const SECRET_OPTIONS = new Set(['--token', '--register', '--key']);
/** Credentials drctl hands out (API tokens, registration keys), wherever they appear. */
const SECRET_VALUE = /\b(drt_[\w-]+|drk1\.[\w.-]+)/g;

/** The command line as the log keeps it: credentials replaced by `<redacted>`. */
export function redactArgv(args: readonly string[]): string[] {
  return args.map((arg, i) => {
    const [name, inline] = arg.split('=', 2);
    if (inline !== undefined && SECRET_OPTIONS.has(name ?? '')) return `${name}=<redacted>`;
    if (i > 0 && SECRET_OPTIONS.has(args[i - 1] ?? '')) return '<redacted>';
    return arg.replace(SECRET_VALUE, '<redacted>');
  });
}

/** Append the full error (stack, causes) to the first writable log; its path, or undefined. */
export function writeCrashLog(error: unknown, argv: readonly string[] = process.argv): string | undefined {
  const details = inspect(error, { depth: 6 }).replace(SECRET_VALUE, '<redacted>');
  const entry = `--- ${new Date().toISOString()} pid ${process.pid}: drctl ${redactArgv(argv.slice(2)).join(' ')}\n${details}\n`;
  for (const file of crashLogCandidates()) {
    try {
      mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
      appendFileSync(file, entry, { mode: 0o600 });
      return file;
    } catch {
      // not writable (read-only home, full disk): try the next place
    }
  }
  return undefined;
}

/** The one line for stderr: `drctl: unexpected error: <message> (details in <log>)`. */
export function unexpectedErrorLine(error: unknown, log: string | undefined): string {
  const raw = error instanceof Error ? error.message : String(error);
  const message = raw.split('\n')[0]?.trim() || (error instanceof Error ? error.name : 'unknown error');
  const where = log === undefined ? 'no log could be written' : `details in ${log}`;
  return `drctl: unexpected error: ${message} (${where})`;
}
