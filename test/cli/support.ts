/**
 * A real `drctl` process (bin/drctl.js, as a user runs it) for the CLI surface tests: its output,
 * exit code and signal, with the test's environment on top of a clean one (no DR_SIM_URL or
 * REDIS_URL leaking in from the shell).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { tracked } from '../support/children.ts';

export interface DrctlRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface DrctlProcess {
  child: ChildProcess;
  /** Everything printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout contains `text` (rejects if the process ends first). */
  waitFor(text: string | RegExp): Promise<void>;
  done: Promise<DrctlRun>;
}

export interface DrctlOptions {
  env?: NodeJS.ProcessEnv;
  /** Close the read end of the child's stdout at once: its first write meets EPIPE (`| head -0`). */
  closeStdout?: boolean;
}

export function startDrctl(args: string[], options: DrctlOptions = {}): DrctlProcess {
  const {
    DR_SIM_URL: _sim,
    REDIS_URL: _redis,
    DR_SCRIPT_CATALOG: _catalog,
    DR_SERVER: _server,
    DR_TOKEN: _token,
    ...base
  } = process.env;
  const child = tracked(
    spawn(process.execPath, ['bin/drctl.js', ...args], {
      env: { ...base, LOG_LEVEL: 'silent', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  if (options.closeStdout) child.stdout.destroy();
  else
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      for (const check of [...waiters]) check();
    });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const done = new Promise<DrctlRun>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    done,
    waitFor: (text) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (typeof text === 'string' ? out.includes(text) : text.test(out)) {
            waiters.splice(waiters.indexOf(check), 1);
            resolve();
          }
        };
        waiters.push(check);
        check();
        void done.then(() =>
          reject(new Error(`drctl ended before printing ${String(text)}:\n${out}\n${err}`)),
        );
      }),
  };
}

/** Run drctl to its end. */
export async function drctl(args: string[], options: DrctlOptions = {}): Promise<DrctlRun> {
  return await startDrctl(args, options).done;
}
