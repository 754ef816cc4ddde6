/**
 * Tests leave no temporary folders behind: every test file that makes one with mkdtemp also
 * removes it (rm/rmSync in a hook or finally), or makes it through useTempDirs (test/support/temp.ts).
 * Regression: plan, CLI and lifecycle tests once left a drctl-*, plan-* or drorch-lc-* folder per run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? files(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

describe('temporary folders made by tests', () => {
  it('are removed by the file that makes them', () => {
    const leaking = files('test').filter((file) => {
      if (file === join('test', 'support', 'temp.ts')) return false;
      const text = readFileSync(file, 'utf8');
      return /\bmkdtemp(Sync)?\(/.test(text) && !/\brm(Sync)?\(/.test(text);
    });
    expect(leaking).toEqual([]);
  });
});
