/**
 * The private Redis's data folder: <tmpdir>/drorch-up-redis-<pid of drctl up>-XXXXXX. A clean stop
 * removes it; a SIGKILLed `drctl up` cannot, so the next one removes those whose up is gone.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'drorch-up-redis-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A new data folder named after this process. */
export function makeRedisDir(dir: string = tmpdir()): string {
  return mkdtempSync(join(dir, `${PREFIX}${process.pid}-`));
}

/** Remove the data folders of `drctl up`s that are gone; the folders removed. */
export function sweepStaleRedisDirs(dir: string = tmpdir()): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const pid = Number(/^drorch-up-redis-(\d+)-/.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid === process.pid || alive(pid)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(join(dir, name));
  }
  return removed;
}
