/**
 * What the engine saw of primaries (engine/locks/sightings.ts), on real Redis: the half of a
 * data-loss claim that says until when an old primary was able to write.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createSightingStore } from '../../engine/locks/index.ts';
import { testRedisClient, uniquePrefix } from '../support/redis.ts';

const redis = testRedisClient();
afterAll(async () => {
  await redis.quit();
});

describe('sightings', () => {
  it('keep the engine’s own stop over a later read that found the VM off', async () => {
    const seen = createSightingStore(redis, uniquePrefix('seen'));
    await seen.running('east', 'sql-01', '2026-01-01T10:00:00.000Z');
    await seen.off('east', 'sql-01', '2026-01-01T10:00:05.000Z', 'fence');
    await seen.off('east', 'sql-01', '2026-01-01T10:02:00.000Z', 'read');
    await seen.heartbeat('east', '2026-01-01T10:03:00.000Z');
    expect((await seen.read('east', ['sql-01', 'web-01'])).get('sql-01')).toEqual({
      runningAt: '2026-01-01T10:00:00.000Z',
      off: { at: '2026-01-01T10:00:05.000Z', by: 'fence' },
      siteHeartbeatAt: '2026-01-01T10:03:00.000Z',
    });
    expect((await seen.read('east', ['web-01'])).get('web-01')).toEqual({
      siteHeartbeatAt: '2026-01-01T10:03:00.000Z',
    });
  });

  it('forget an old fence once the engine starts the VM there again (no stale "exact" for a later failover)', async () => {
    const seen = createSightingStore(redis, uniquePrefix('seen'));
    await seen.off('east', 'sql-01', '2026-01-01T10:00:05.000Z', 'fence');
    await seen.started('east', 'sql-01');
    expect((await seen.read('east', ['sql-01'])).get('sql-01')).toEqual({});
    // A read that finds it off after that is recorded again.
    await seen.off('east', 'sql-01', '2026-01-02T08:00:00.000Z', 'read');
    expect((await seen.read('east', ['sql-01'])).get('sql-01')?.off).toEqual({
      at: '2026-01-02T08:00:00.000Z',
      by: 'read',
    });
  });
});
