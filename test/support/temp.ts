/**
 * Temporary folders a test file makes, removed after its tests: call `useTempDirs()` where hooks
 * may be declared (the file's top level or a describe), then `temp('label-')` in any test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

export function useTempDirs(): (label: string) => string {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return (label) => {
    const dir = mkdtempSync(join(tmpdir(), label));
    dirs.push(dir);
    return dir;
  };
}
