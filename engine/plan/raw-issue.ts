import type { YamlPath } from './positions.ts';

/** An issue before it has a position: the checks work on plain data, positions come after. */
export interface RawIssue {
  code: string;
  message: string;
  path: YamlPath;
  /** Point at the key (unknown or duplicate key) rather than its value. */
  on?: 'key' | 'value';
  severity: 'error' | 'warning';
  hint?: string;
}

export function error(code: string, message: string, path: YamlPath, hint?: string): RawIssue {
  return hint === undefined
    ? { code, message, path, severity: 'error' }
    : { code, message, path, severity: 'error', hint };
}

export function warning(code: string, message: string, path: YamlPath, hint?: string): RawIssue {
  return hint === undefined
    ? { code, message, path, severity: 'warning' }
    : { code, message, path, severity: 'warning', hint };
}
