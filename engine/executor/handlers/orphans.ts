/**
 * The second line against a script outliving its worker. The first is the script's supervisor
 * (script-supervisor.mjs), which kills the script's process group when the worker's pipe closes;
 * should the supervisor itself have been killed (SIGKILL, the OOM killer), the group it led may
 * still run. The action memo records each run's group (`ScriptGroup`), and a re-run of an
 * interrupted run ends what is left of it before the script runs again.
 */
import { readdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';

/** Where a script run's process group lives: its host and its id (the supervisor's pid). */
export interface ScriptGroup {
  host: string;
  pgid: number;
}

export function scriptGroup(pgid: number): ScriptGroup {
  return { host: hostname(), pgid };
}

/**
 * SIGKILL the processes left of an interrupted run's group: those of the group that carry the
 * run's DR_EXECUTION and DR_STEP (so a group id reused since can never kill anything else).
 * Returns what was found, for the action-rerun event.
 */
export async function endOrphanedGroup(group: ScriptGroup, execution: string, step: string): Promise<string> {
  if (group.host !== hostname()) {
    return `its process group ${group.pgid} is on host ${group.host}, not checked from here`;
  }
  try {
    // Signal 0 to the group: fails when no process of it is left, the usual case (the supervisor
    // ended it), and spares the look through every process of the host.
    process.kill(-group.pgid, 0);
  } catch {
    return `nothing of its process group ${group.pgid} was left`;
  }
  if (process.platform !== 'linux') return `its process group ${group.pgid} was not checked (needs /proc)`;
  const members = await groupMembers(group.pgid, execution, step);
  for (const pid of members) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Ended meanwhile.
    }
  }
  return members.length === 0
    ? `nothing of its process group ${group.pgid} was left`
    : `${members.length} process(es) of its process group ${group.pgid} still ran and were killed`;
}

/** Live processes of group `pgid` started for this execution's step (Linux /proc). */
async function groupMembers(pgid: number, execution: string, step: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // After the command's closing parenthesis: state, ppid, pgrp, ...
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) !== pgid || state === 'Z') continue;
      const env = (await readFile(`/proc/${name}/environ`, 'utf8')).split('\0');
      if (env.includes(`DR_EXECUTION=${execution}`) && env.includes(`DR_STEP=${step}`))
        found.push(Number(name));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}
