/**
 * The supervisor of `drctl up` with small real processes (node -e scripts): ready lines, logs,
 * restarts, --no-restart, a start that fails, and a stop that gives a stubborn process its grace
 * and then kills its whole group.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonLineWith, type ProcessSpec } from '../../engine/cli/up/child.ts';
import { ProcessStartError, Supervisor, type SupervisorEvent } from '../../engine/cli/up/supervisor.ts';
import { useTempDirs } from '../support/temp.ts';

const temp = useTempDirs();

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A node process running `before`, printing {"ready": true, "pid": ...}, then running `body`. Signal
 * handlers go in `before`: the supervisor may act on the ready line before `body` has run.
 */
function script(name: string, body = '', before = ''): ProcessSpec {
  return {
    name,
    command: process.execPath,
    args: [
      '-e',
      `${before}console.log(JSON.stringify({ ready: true, pid: process.pid })); console.error('${name} says hi'); ${body}; setInterval(() => {}, 1000);`,
    ],
    ready: jsonLineWith('ready'),
  };
}

/** Resolves with the first event `test` accepts. */
function nextEvent(
  events: SupervisorEvent[],
  test: (e: SupervisorEvent) => boolean,
): Promise<SupervisorEvent> {
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      const found = events.find(test);
      if (found) {
        clearInterval(poll);
        resolve(found);
      }
    }, 20);
  });
}

let supervisor: Supervisor | undefined;
afterEach(async () => {
  await supervisor?.stop();
  supervisor = undefined;
});

describe('the supervisor of drctl up', () => {
  it('starts stages in order, reports each ready line, and logs stdout and stderr to <name>.log', async () => {
    const logs = temp('up-sup-');
    supervisor = new Supervisor({ logs });
    await supervisor.startStage([script('first')]);
    await supervisor.startStage([script('second'), script('third')]);
    const status = supervisor.status();
    expect(status.map((p) => [p.name, p.state])).toEqual([
      ['first', 'running'],
      ['second', 'running'],
      ['third', 'running'],
    ]);
    for (const p of status) {
      expect(p.ready).toEqual({ ready: true, pid: p.pid });
      expect(alive(p.pid)).toBe(true);
      const log = readFileSync(join(logs, `${p.name}.log`), 'utf8');
      expect(log).toContain('drctl up starts:');
      expect(log).toContain(`"pid":${p.pid}`);
      expect(log).toContain(`${p.name} says hi`);
    }
  });

  it('restarts a process killed by SIGKILL, as a new pid, and counts the restart', async () => {
    const events: SupervisorEvent[] = [];
    supervisor = new Supervisor({ logs: temp('up-sup-'), backoffMs: 50, onEvent: (e) => events.push(e) });
    await supervisor.startStage([script('victim')]);
    const first = supervisor.status()[0]?.pid;
    process.kill(first ?? -1, 'SIGKILL');
    const restarted = await nextEvent(events, (e) => e.event === 'restarted');
    expect(events[0]).toMatchObject({
      event: 'exited',
      name: 'victim',
      pid: first,
      signal: 'SIGKILL',
      restarting: true,
    });
    expect(restarted).toMatchObject({ event: 'restarted', name: 'victim', restarts: 1 });
    const now = supervisor.status()[0];
    expect(now?.pid).not.toBe(first);
    expect(alive(now?.pid)).toBe(true);
    expect(now?.restarts).toBe(1);
  });

  it('with restart off, leaves a dead process down', async () => {
    const events: SupervisorEvent[] = [];
    supervisor = new Supervisor({
      logs: temp('up-sup-'),
      restart: false,
      backoffMs: 10,
      onEvent: (e) => events.push(e),
    });
    await supervisor.startStage([script('victim')]);
    const pid = supervisor.status()[0]?.pid;
    process.kill(pid ?? -1, 'SIGKILL');
    await nextEvent(events, (e) => e.event === 'exited');
    // Fifty times the backoff a restart would have waited.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(events).toEqual([
      { event: 'exited', name: 'victim', pid, code: null, signal: 'SIGKILL', restarting: false },
    ]);
    expect(supervisor.status()[0]).toMatchObject({ pid, state: 'down', restarts: 0 });
  });

  it('fails a start that exits before its ready line, naming the process, its exit and its log tail', async () => {
    const logs = temp('up-sup-');
    supervisor = new Supervisor({ logs });
    const broken: ProcessSpec = {
      name: 'broken',
      command: process.execPath,
      args: ['-e', "console.error('cannot bind port 7070'); process.exit(3)"],
      ready: jsonLineWith('ready'),
    };
    const error = await supervisor.startStage([broken]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProcessStartError);
    expect((error as Error).message).toContain(
      'broken did not start: it exited with code 3 before it was ready',
    );
    expect((error as Error).message).toContain(join(logs, 'broken.log'));
    expect((error as Error).message).toContain('cannot bind port 7070');
  });

  it.skipIf(process.platform !== 'linux')(
    'stops in reverse order, and SIGKILLs the group of a process that ignores SIGTERM past its grace',
    async () => {
      const logs = temp('up-sup-');
      supervisor = new Supervisor({ logs, graceMs: 300 });
      const stampTerm = "console.error('SIGTERM at ' + Date.now())";
      // `stubborn` ignores SIGTERM, and has a child of its own in its group.
      const grandchild =
        "require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });";
      await supervisor.startStage([
        script('polite', '', `process.on('SIGTERM', () => { ${stampTerm}; process.exit(0) });`),
      ]);
      await supervisor.startStage([
        script('stubborn', '', `${grandchild} process.on('SIGTERM', () => ${stampTerm});`),
      ]);
      const [polite, stubborn] = supervisor.status();
      expect(groupMembers(stubborn?.pid ?? -1)).toHaveLength(2);

      await supervisor.stop();

      expect(alive(polite?.pid)).toBe(false);
      expect(alive(stubborn?.pid)).toBe(false);
      expect(groupMembers(stubborn?.pid ?? -1)).toEqual([]);
      expect(supervisor.status().map((p) => p.state)).toEqual(['stopped', 'stopped']);
      const termAt = (name: string) =>
        Number(/SIGTERM at (\d+)/.exec(readFileSync(join(logs, `${name}.log`), 'utf8'))?.[1]);
      // The last stage is asked first, and the first only once the last is gone.
      expect(termAt('stubborn')).toBeLessThan(termAt('polite'));
    },
  );
});

/** Pids of the live processes in process group `pgid` (Linux /proc). */
function groupMembers(pgid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') found.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return found;
}
