/**
 * The private Redis data folders of `drctl up`: a SIGKILLed up leaves its folder, and the next up
 * removes the folders whose up is gone, never one whose up still runs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeRedisDir, sweepStaleRedisDirs } from '../../engine/cli/up/redis-dir.ts';
import { useTempDirs } from '../support/temp.ts';

const temp = useTempDirs();

describe('the private Redis data folders of drctl up', () => {
  it('removes the folders of ups that are gone, and keeps those of live ones and other folders', () => {
    const dir = temp('up-redis-dir-');
    const gonePid = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], {
      encoding: 'utf8',
    }).stdout.trim();
    const gone = join(dir, `drorch-up-redis-${gonePid}-abc123`);
    const live = join(dir, `drorch-up-redis-${process.ppid}-def456`);
    const mine = makeRedisDir(dir);
    const other = join(dir, 'drorch-redis-xyz');
    for (const folder of [gone, live, other]) mkdirSync(folder);

    expect(sweepStaleRedisDirs(dir)).toEqual([gone]);
    expect([gone, live, mine, other].map(existsSync)).toEqual([false, true, true, true]);
  });
});
