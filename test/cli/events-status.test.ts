/**
 * What `drctl events`, `drctl status` and `drctl approve` show an operator, against a planned
 * failover that ran on a real engine (test Redis, simulated world, the three-tier plan with its
 * update-dns script): the script's output under its step (it was stored and never shown), ISO
 * date and time on every event (not only HH:MM:SS), a header over the executions list, and a
 * typo'd action name answered with the right one (exit 2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  actionFixtures,
  loadExample,
  startTestEngine,
  type TestEngine,
  waitForStatus,
} from '../engine/support.ts';
import { drctl } from './support.ts';

describe('drctl events / status / approve after a planned failover', { timeout: 300_000 }, () => {
  let fixtures: Awaited<ReturnType<typeof actionFixtures>>;
  let engine: TestEngine;
  let id: string;
  beforeAll(async () => {
    fixtures = await actionFixtures();
    const { plan, hash } = await loadExample('plans/examples/three-tier.yaml', fixtures.webhookUrl);
    engine = await startTestEngine(plan, { catalog: fixtures.catalog });
    ({ id } = await engine.client.submit({
      type: 'planned',
      plan,
      hash,
      reason: 'cli tour',
      approveManual: true,
    }));
    await waitForStatus(engine.client, id, ['completed', 'failed'], 120_000);
  }, 180_000);
  afterAll(async () => {
    await engine?.close();
    await fixtures?.close();
  });

  const run = (args: string[]) =>
    drctl([...args, '--prefix', engine.prefix], { env: { REDIS_URL: engine.redisUrl } });

  it('events: ISO date and time on each line, the script output under its step', async () => {
    const events = await run(['events', id]);
    expect(events.code).toBe(0);
    const [clocks, ...lines] = events.stdout.trim().split('\n');
    // The first line says which clock the times are on; every event line after it is dated.
    expect(clocks).toMatch(/wall clock/);
    const eventLines = lines.filter((line) => !line.startsWith('    '));
    expect(eventLines.length).toBeGreaterThan(10);
    for (const line of eventLines)
      expect(line).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z \+\s*\d/);
    // The catalog's update-dns prints "$0 $*": its stdout follows its step-finished line.
    const done = lines.findIndex((line) => /step action\/update-dns done$/.test(line));
    expect(done).toBeGreaterThan(-1);
    expect(lines[done + 1]).toMatch(/^ {4}stdout\| .*update-dns\.sh/);
  });

  it('status: the executions list has a header row', async () => {
    const status = await run(['status']);
    expect(status.code).toBe(0);
    const [header, first] = status.stdout.split('\n');
    expect(header).toMatch(/^EXECUTION\s+TYPE\s+STATUS\s+PLAN\s+STEPS\s+CREATED\s+BY: REASON$/);
    expect(first?.startsWith(id)).toBe(true);
    // the columns line up under the header
    const under = (column: string) => first?.slice(header?.indexOf(column)).split(' ')[0];
    expect(under('TYPE')).toBe('planned');
    expect(under('STATUS')).toBe('completed');
    expect(under('PLAN')).toBe('erp');
  });

  it('approve with a misspelt action name: did you mean the right one, exit 2', async () => {
    const approve = await run(['approve', id, 'confirm-sna']);
    expect(approve.code).toBe(2);
    expect(approve.stderr).toContain(`has no step "confirm-sna": did you mean "confirm-san"?`);
    expect(approve.stderr.trim().split('\n')).toHaveLength(1);
  });
});
