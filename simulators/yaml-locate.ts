import { createPathLocator, type Position } from '../engine/plan/index.ts';

/**
 * 1-based line:column of the YAML node at a path (or of its nearest existing parent, or of the
 * document when none), so a world file's errors point at the place to fix. engine/plan's locator.
 */
export function locator(text: string): (path: readonly PropertyKey[], on?: 'value' | 'key') => Position {
  const at = createPathLocator(text);
  return (path, on = 'value') => at(path, on) ?? at([]) ?? { line: 1, column: 1 };
}
