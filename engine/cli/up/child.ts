/**
 * One run of one supervised process: spawned in a process group of its own, its stdout and
 * stderr appended to its log file, its ready line read from stdout. The supervisor (supervisor.ts)
 * decides when to start, restart and stop it; this file only does it.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { execa } from 'execa';

/** What to run, as data: the table of processes (processes.ts) is a list of these. */
export interface ProcessSpec {
  /** Unique among the processes; also the log file's name, `<name>.log`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Added to the supervisor's own environment. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Reads one line of stdout: the first line it returns a value for is the ready line, and the
   * value is what the process reported (its URL, its queue). Until then the process is starting.
   */
  readonly ready: (line: string) => Record<string, unknown> | undefined;
}

/** How a run ended: an exit code, a signal, or a spawn that never happened (`error`). */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: string | null;
  readonly error?: string;
}

export interface Spawned {
  readonly pid: number | undefined;
  /** Resolves with the ready line's value; rejects with the reason when the run ends or times out first. */
  readonly ready: Promise<Record<string, unknown>>;
  readonly exit: Promise<ExitInfo>;
  exited(): boolean;
}

/** `ready` for a process whose ready line is a JSON object with `key` (drctl's `--json` lines). */
export function jsonLineWith(key: string): ProcessSpec['ready'] {
  return (line) => {
    if (!line.startsWith('{')) return undefined;
    try {
      const value: unknown = JSON.parse(line);
      return typeof value === 'object' && value !== null && key in value
        ? (value as Record<string, unknown>)
        : undefined;
    } catch {
      return undefined;
    }
  };
}

/** `ready` for a process that says it is ready in words (redis-server's log). */
export function lineMatching(pattern: RegExp): ProcessSpec['ready'] {
  return (line) => (pattern.test(line) ? { line } : undefined);
}

let setprivWorks: boolean | undefined;

/**
 * On Linux, run the command under `setpriv --pdeathsig TERM` (util-linux): the kernel sends it
 * SIGTERM when the supervisor dies, even by SIGKILL, which no handler of ours can see. setpriv
 * execs the command, so the pid stays the command's. Elsewhere, or without setpriv, as is.
 */
function withParentDeathSignal(command: string, args: readonly string[]): [string, string[]] {
  setprivWorks ??=
    process.platform === 'linux' &&
    spawnSync('setpriv', ['--pdeathsig', 'TERM', '--', 'true'], { stdio: 'ignore' }).status === 0;
  return setprivWorks ? ['setpriv', ['--pdeathsig', 'TERM', '--', command, ...args]] : [command, [...args]];
}

/** Signal a process group; a group already gone is not an error. */
export function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export function describeExit(exit: ExitInfo): string {
  if (exit.error !== undefined) return `could not be started (${exit.error})`;
  return exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

/** The last lines of a log, for the message of a process that failed to start. */
export function logTail(file: string, lines = 12): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Start one run of `spec`, appending to `logFile`; `ready` rejects after `startTimeoutMs`. */
export function spawnProcess(spec: ProcessSpec, logFile: string, startTimeoutMs: number): Spawned {
  const fd = openSync(logFile, 'a');
  const shown = [spec.command, ...spec.args].map((arg) => (arg === '' ? "''" : arg)).join(' ');
  writeSync(fd, `--- ${new Date().toISOString()} drctl up starts: ${shown}\n`);
  const [file, args] = withParentDeathSignal(spec.command, spec.args);
  const child = execa(file, args, {
    // A group of its own: Ctrl-C at the terminal reaches the supervisor alone, which then stops
    // the processes in order, and a stop reaches anything the process started.
    detached: true,
    cleanup: false,
    reject: false,
    buffer: false,
    forceKillAfterDelay: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    env: { ...spec.env },
  });
  // Both streams go to the log as they come; the run's end waits for them, so a dying word is kept.
  child.stderr?.on('data', (chunk: Buffer) => writeSync(fd, chunk));
  let done = false;
  const exit: Promise<ExitInfo> = child.then((result) => {
    done = true;
    closeSync(fd);
    const never = result.failed && result.exitCode === undefined && result.signal === undefined;
    return {
      code: result.exitCode ?? null,
      signal: result.signal ?? null,
      ...(never ? { error: result.shortMessage } : {}),
    };
  });
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    let pending = '';
    let found = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      writeSync(fd, chunk);
      if (found) return;
      pending += chunk.toString();
      for (let end = pending.indexOf('\n'); end >= 0 && !found; end = pending.indexOf('\n')) {
        const value = spec.ready(pending.slice(0, end).trim());
        pending = pending.slice(end + 1);
        if (value !== undefined) {
          found = true;
          pending = '';
          clearTimeout(timer);
          resolve(value);
        }
      }
    });
    const timer = setTimeout(() => {
      reject(new Error(`printed no ready line within ${Math.round(startTimeoutMs / 1000)}s`));
      signalGroup(child.pid, 'SIGKILL');
    }, startTimeoutMs);
    void exit.then((info) => {
      clearTimeout(timer);
      if (!found) reject(new Error(`${describeExit(info)} before it was ready`));
    });
  });
  ready.catch(() => {}); // the supervisor awaits it; an unawaited rejection is not a crash
  return { pid: child.pid, ready, exit, exited: () => done };
}
