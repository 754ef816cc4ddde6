/**
 * Ctrl-C on a command that follows an execution stops the following, not the execution: the run
 * lives in the engine (Redis and the orchestrator), so the command says so, shows how to follow
 * it again or stop it, and exits 130 (128 + SIGINT) without a stack trace.
 */
import { DEFAULT_PREFIX } from '../../executor/index.ts';

export interface Followed {
  id: string;
  /** The execution's type, once known (decides how to stop it). */
  type?: string;
  prefix: string;
}

let followed: Followed | undefined;

/** What to tell the user who pressed Ctrl-C while following `id`. */
export function interruptLines({ id, type, prefix }: Followed): string[] {
  const p = prefix === DEFAULT_PREFIX ? '' : ` --prefix ${prefix}`;
  const lines = [
    `drctl: interrupted; execution ${id} goes on in the engine (Ctrl-C stops only this command)`,
    `  follow it:  drctl status ${id}${p}   or   drctl events ${id} --follow${p}`,
  ];
  if (type === 'planned' || type === 'unplanned')
    lines.push(
      `  cancel it:  drctl cancel ${id}${p}   (rolls the failover back before its point of no return)`,
    );
  else if (type === 'test')
    lines.push(`  end it:     drctl cleanup ${id}${p}   (once it has finished: removes its test VMs)`);
  return lines;
}

function onInterrupt(): void {
  const current = followed;
  if (current !== undefined) {
    // A TTY's status line is still open: start on a fresh line.
    if (process.stdout.isTTY) process.stdout.write('\n');
    process.stderr.write(`${interruptLines(current).join('\n')}\n`);
  }
  process.exit(130);
}

/**
 * Run `body` (which follows execution `id`) with Ctrl-C explained as above. Nested calls (a
 * lifecycle command that waits, then watches) name the innermost execution.
 */
export async function whileFollowing<T>(execution: Followed, body: () => Promise<T>): Promise<T> {
  const previous = followed;
  followed = execution;
  if (previous === undefined) process.on('SIGINT', onInterrupt);
  try {
    return await body();
  } finally {
    followed = previous;
    if (previous === undefined) process.off('SIGINT', onInterrupt);
  }
}
