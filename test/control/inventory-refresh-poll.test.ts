import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVault, type Vault } from './inventory-support.ts';

const SITE = 'dc-west';
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a refresh long poll', () => {
  let vault: Vault;
  // The route reads its clock once per look at the flag: how often it looks.
  let looks = 0;
  beforeAll(async () => {
    vault = await startVault({
      clock: () => {
        looks++;
        return Date.parse('2030-01-01T00:00:00Z');
      },
    });
  });
  afterAll(async () => {
    await vault.close();
  });

  // Regression: the loop went on reading Redis until its deadline after the agent had gone, and
  // failed with "Connection is closed" (a logged stack) once the closing control plane let go of Redis.
  it('stops looking once its agent went away', async () => {
    const agent = new AbortController();
    const polled = fetch(`${vault.url}/api/v1/agents/${SITE}/inventory/refresh?waitMs=25000`, {
      signal: agent.signal,
    }).catch(() => 'aborted');
    await pause(500);
    expect(looks).toBeGreaterThan(1);
    agent.abort();
    expect(await polled).toBe('aborted');
    await pause(300);
    const after = looks;
    await pause(700);
    expect(looks).toBe(after);
  });

  it('answers at once when a refresh was asked', async () => {
    await vault.store.requestRefresh(SITE, Date.parse('2030-01-01T00:00:00Z'), 60_000);
    const answer = await vault.request<{ refresh: boolean }>(
      'GET',
      `/api/v1/agents/${SITE}/inventory/refresh`,
      {
        query: { waitMs: 25_000 },
      },
    );
    expect(answer.refresh).toBe(true);
  });
});
