/**
 * No user ever sees a stack trace: a reader that closes the pipe early (`| head -1`, `| true`)
 * ends drctl quietly, and an error nobody expected is one line naming a log file that holds the
 * stack, exit 1. Real processes: the behaviour is about stdout pipes and process exit.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testRedisClient, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { drctl } from './support.ts';

const state = mkdtempSync(join(tmpdir(), 'drctl-state-'));
afterAll(() => rmSync(state, { recursive: true, force: true }));

describe('when the reader closes the pipe early (EPIPE)', { timeout: 60_000 }, () => {
  it.each([
    ['validate', ['validate', 'plans/examples/three-tier.yaml']],
    ['plan show --format dot', ['plan', 'show', 'plans/examples/three-tier.yaml', '--format', 'dot']],
    ['plan generate --vms 2000', ['plan', 'generate', '--vms', '2000']],
  ])('%s ends quietly: nothing on stderr, exit 0', async (_name, args) => {
    const run = await drctl(args, { closeStdout: true, env: { XDG_STATE_HOME: state } });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });
});

describe('when an error nobody expected reaches the CLI', { timeout: 60_000 }, () => {
  it('prints one line with the message and the log path, writes the stack there, exits 1', async () => {
    // A store someone broke by hand: the execution's meta key holds a string, not a hash.
    const prefix = uniquePrefix('crash');
    const redis = testRedisClient();
    try {
      await redis.set(`${prefix}:{exec:broken}:meta`, 'not a hash');
      const run = await drctl(['status', 'broken', '--prefix', prefix], {
        env: { REDIS_URL: testRedisUrl(), XDG_STATE_HOME: state },
      });
      expect(run.code).toBe(1);
      const log = join(state, 'drorch', 'drctl.log');
      expect(run.stderr).toBe(`drctl: unexpected error: ${firstLine(run.stderr)} (details in ${log})\n`);
      expect(run.stderr).toContain('WRONGTYPE');
      expect(run.stderr).not.toMatch(/\n\s+at /);
      const details = readFileSync(log, 'utf8');
      expect(details).toContain(`drctl status broken --prefix ${prefix}`);
      expect(details).toContain('WRONGTYPE');
      expect(details).toMatch(/\n\s+at /); // the stack is in the log
    } finally {
      await redis.del(`${prefix}:{exec:broken}:meta`);
      await redis.quit();
    }
  });
});

function firstLine(stderr: string): string {
  return /^drctl: unexpected error: (.*) \(details in /.exec(stderr)?.[1] ?? '<no such line>';
}
