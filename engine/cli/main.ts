import { CommanderError } from 'commander';
import { DrError, stripControl } from '../common/index.ts';
import { unexpectedErrorLine, writeCrashLog } from './crash-log.ts';
import { buildProgram } from './program.ts';

/**
 * drctl: exit codes 0 ok, 1 failed, 2 bad input. Every command takes --json for scripts.
 * This file only runs the command tree (program.ts) and maps errors to exit codes: a user never
 * sees a stack trace (known errors are one line; unexpected ones one line and a log file).
 */

// `drctl ... | head -1` closes the pipe early: not an error, end quietly with what was decided.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  fail(error);
});
// Nothing can be said once stderr is gone.
process.stderr.on('error', () => process.exit(process.exitCode ?? 1));

function fail(error: unknown): never {
  if (error instanceof DrError) {
    // A server's message may carry control characters that would rewrite the operator's terminal.
    process.stderr.write(`drctl: ${stripControl(error.message)}\n`);
    process.exit(error.exitCode);
  }
  process.stderr.write(`${stripControl(unexpectedErrorLine(error, writeCrashLog(error)))}\n`);
  process.exit(1);
}

// An error thrown outside the command's own promise (an event handler, a stray rejection).
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit 0; usage errors are bad input.
    process.exit(error.exitCode === 0 ? 0 : 2);
  }
  fail(error);
}
