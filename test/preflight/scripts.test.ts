/** The pure decision of pre-flight's script check (engine/preflight scripts.ts). */
import { describe, expect, it } from 'vitest';
import { type ServedCatalogView, scriptFindings } from '../../engine/preflight/index.ts';

const use = { script: 'update-dns', site: 'dc-west', path: 'spec.actions[1].script', action: 'update-dns' };
const served = (...workers: ServedCatalogView[]) => new Map([['dc-west', workers]]);

describe('script actions against the catalogs the workers of their site serve', () => {
  it('blocks when one of the workers lacks the script: a job may land on it', () => {
    const findings = scriptFindings(
      [use],
      served(
        { worker: 'w1', folder: '/srv/catalog', scripts: { 'update-dns': 'a' } },
        { worker: 'w2', scripts: {} },
      ),
    );
    expect(findings).toMatchObject([{ severity: 'blocker', code: 'SCRIPT_NOT_IN_CATALOG', site: 'dc-west' }]);
    expect(findings[0]?.message).toContain('1 of 2 worker(s) of dc-west (no catalog)');
  });

  it('warns when the workers serve different versions of the script', () => {
    const findings = scriptFindings(
      [use],
      served(
        { worker: 'w1', folder: '/a', scripts: { 'update-dns': 'a' } },
        { worker: 'w2', folder: '/b', scripts: { 'update-dns': 'b' } },
      ),
    );
    expect(findings).toMatchObject([{ severity: 'warning', code: 'SCRIPT_CATALOG_DIFFERS' }]);
  });

  it('says once per site that no worker serves a catalog there', () => {
    const findings = scriptFindings([use, { ...use, path: 'spec.actions[1].undo.script' }], new Map());
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ code: 'NO_SCRIPT_CATALOG', path: 'spec.actions[1].script' });
    expect(findings[0]?.hint).toBe(
      "start the site's agent with a catalog: `drctl agent --site dc-west --script-catalog <dir>` (or DR_SCRIPT_CATALOG; `drctl up --script-catalog <dir>`)",
    );
  });

  it('passes when every worker serves the same script', () => {
    const w = { folder: '/a', scripts: { 'update-dns': 'a' } };
    expect(scriptFindings([use], served({ worker: 'w1', ...w }, { worker: 'w2', ...w }))).toEqual([]);
  });
});
