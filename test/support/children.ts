/**
 * Child processes (drctl workers, orchestrators, simulators, receivers) a test file starts are
 * killed when the file's process ends. A test that vitest stops on its timeout never reaches its
 * `finally`, and without this its children outlive the run, taking CPU from every test after it.
 */
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let hooked = false;

function killAll(): void {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  live.clear();
}

/** Track a child process: SIGKILLed when this process exits or is told to stop. Returns it. */
export function tracked<T extends ChildProcess>(child: T): T {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!hooked) {
    hooked = true;
    process.once('exit', killAll);
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        killAll();
        process.exit(128 + (signal === 'SIGTERM' ? 15 : 2));
      });
    }
  }
  return child;
}
