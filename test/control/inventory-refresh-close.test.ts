/**
 * The agents' refresh long poll (GET /api/v1/agents/:site/inventory/refresh) and the control
 * plane's close. Regression: a poll went on reading Redis until its `waitMs` (25 s for an agent)
 * after the control plane closed, failing with "Connection is closed" and holding `drctl demo`'s
 * process that long after its last line.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startVault, type Vault } from './inventory-support.ts';

let vault: Vault | undefined;
afterEach(async () => {
  await vault?.close();
  vault = undefined;
});

describe('when the control plane closes while an agent waits for a refresh request', () => {
  it('answers the poll at once with no refresh, and the close completes', { timeout: 15_000 }, async () => {
    // The vault's clock stands still: without the close, this poll would never reach its deadline.
    const running = await startVault();
    vault = running;
    const arrived = new Promise<void>((resolve) => running.app.server.once('request', () => resolve()));
    const poll = running.request<{ refresh: boolean }>('GET', '/api/v1/agents/dc-west/inventory/refresh', {
      query: { waitMs: 25_000 },
    });
    await arrived;

    vault = undefined;
    await running.close();

    expect(await poll).toEqual({ refresh: false });
  });
});
