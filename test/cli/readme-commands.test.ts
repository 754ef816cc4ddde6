/**
 * The README's own commands work as written: every example plan validates against the shipped
 * script catalog (`drctl validate <plan> --script-catalog scripts/catalog`). Regression:
 * estate-200 named four scripts (sql-fix-orphaned-logins, sql-ag-health, gslb-switch and its undo
 * gslb-restore) the catalog did not have, so the README's validate line failed with exit 2.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { drctl } from './support.ts';

describe('the README commands', { timeout: 60_000 }, () => {
  it('every plan in plans/examples validates against scripts/catalog', async () => {
    const plans = readdirSync('plans/examples')
      .filter((name) => name.endsWith('.yaml'))
      .map((name) => `plans/examples/${name}`);
    expect(plans.length).toBeGreaterThanOrEqual(3);
    const run = await drctl(['validate', ...plans, '--script-catalog', 'scripts/catalog']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    for (const plan of plans) expect(run.stdout).toContain(`${plan}: ok, plan `);
  });
});
