/**
 * `drctl demo` stopped by SIGHUP (terminal closed), SIGINT (Ctrl-C) or SIGTERM leaves nothing
 * behind: its private redis-server is gone and its temporary folders (the server's data folder,
 * the demo's script catalog) are removed. The demo runs with a TMPDIR of its own, so "nothing
 * left" is a folder with no drorch-* entry (tsx keeps its compile cache there too, by design);
 * its redis-server is found as its child in /proc.
 */
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDrctl } from './support.ts';

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** Pids of the processes whose parent is `pid` and whose name is `name` (Linux /proc). */
function childrenNamed(pid: number, name: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && comm.startsWith(name)) found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** The demo's own entries of a temporary folder. */
function ours(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith('drorch-'))
    .sort();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(process.platform !== 'linux')(
  'when the demo is stopped by a signal',
  { timeout: 120_000 },
  () => {
    it.each([
      ['SIGHUP', 129],
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const)('%s: no redis-server and no temporary folder left, exit %i', async (signal, code) => {
      const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'drctl-demo-tmp-')));
      temps.push(tmp);
      const demo = startDrctl(['demo'], { env: { TMPDIR: tmp } });
      await demo.waitFor('== DRILL');
      const pid = demo.child.pid ?? -1;
      const servers = childrenNamed(pid, 'redis-server');
      expect(servers).toHaveLength(1);
      const server = servers[0] ?? -1;
      expect(realpathSync(`/proc/${server}/cwd`).startsWith(tmp)).toBe(true); // its data folder
      expect(ours(tmp)).toEqual([
        expect.stringMatching(/^drorch-demo-keys-/), // the vault's key file, the agents' keys
        expect.stringMatching(/^drorch-demo-scripts-/),
        expect.stringMatching(/^drorch-redis-/),
      ]);

      demo.child.kill(signal);
      const run = await demo.done;

      expect(run.code).toBe(code);
      expect(run.stderr).toContain(`demo stopped (${signal})`);
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(alive(server)).toBe(false);
      expect(ours(tmp)).toEqual([]);
    });
  },
);
