// The supervisor of one script action run (script.ts starts it; plain JavaScript so that Node
// starts it without a loader). It leads a process group of its own (the worker spawns it detached)
// and starts the script in that group, so the script and everything it starts can be killed as one:
//
// - SIGTERM (the worker's timeout, cancel or shutdown): SIGTERM to the whole group, then SIGKILL to
//   the whole group after the grace period, or as soon as the script has exited;
// - its stdin closing (the worker died, even by SIGKILL, and the kernel closed the pipe): the same,
//   so no script outlives its worker to be run again beside the next run;
// - the script exiting by itself: the supervisor exits the same way (its exit code, or its signal).
//
// argv: <grace ms> <command> [args...]; the script's stdout and stderr are the supervisor's own.
import { spawn } from 'node:child_process';

const [graceArg, command, ...args] = process.argv.slice(2);
const graceMs = Number(graceArg);
if (command === undefined || !Number.isFinite(graceMs)) {
  process.stderr.write('script-supervisor: usage: script-supervisor.mjs <grace ms> <command> [args...]\n');
  process.exit(2);
}

let stopping = false;
const killGroup = (signal) => {
  try {
    process.kill(-process.pid, signal);
  } catch {
    // The group is gone.
  }
};
const stop = () => {
  if (stopping) return;
  stopping = true;
  killGroup('SIGTERM');
  setTimeout(() => killGroup('SIGKILL'), graceMs);
};
// The group's SIGTERM reaches the supervisor too: it only starts the stop.
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('SIGHUP', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();

const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
child.on('error', (error) => {
  process.stderr.write(`cannot start ${command}: ${error.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  // Stopped: whatever the script left in the group goes with the supervisor.
  if (stopping) killGroup('SIGKILL');
  if (signal !== null) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
