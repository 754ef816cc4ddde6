import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** A process that starts a tracked child, prints its pid, then ends as `how` says. */
async function parentThat(how: 'exits' | 'is terminated'): Promise<number> {
  const script = `
    import { spawn } from 'node:child_process';
    import { tracked } from './test/support/children.ts';
    const child = tracked(spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }));
    console.log(child.pid);
    ${how === 'exits' ? 'setTimeout(() => process.exit(0), 200);' : 'setInterval(() => {}, 1000);'}
  `;
  const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(parent.stdout, 'data')) as [Buffer];
  const pid = Number.parseInt(line.toString(), 10);
  if (how === 'is terminated') parent.kill('SIGTERM');
  await once(parent, 'exit');
  return pid;
}

/** Running, not gone nor a zombie left for init to reap. */
function alive(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

describe('child processes a test file starts', () => {
  it.each(['exits', 'is terminated'] as const)('are killed when the test process %s', async (how) => {
    const pid = await parentThat(how);
    expect(pid).toBeGreaterThan(0);
    // The kill is sent as the parent goes; give it a moment to land.
    for (let i = 0; i < 50 && alive(pid); i += 1) await new Promise((r) => setTimeout(r, 20));
    expect(alive(pid)).toBe(false);
  });
});
