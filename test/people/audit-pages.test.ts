/**
 * `GET /audit` a page at a time (`limit`, `next` → `after`, `since`), and `drctl audit` following
 * the pages to the end: a log longer than one page comes out whole, in order, once each.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../engine/control/audit/index.ts';
import { drctl } from '../cli/support.ts';
import { adminToken, bearer } from '../support/auth.ts';
import { useTempDirs } from '../support/temp.ts';
import { startVaultStack, tlsRequest, type VaultStack } from '../vault/support.ts';

const temp = useTempDirs();
let stack: VaultStack;
let token: string;
const FILLED = 2300;

beforeAll(async () => {
  stack = await startVaultStack(temp);
  token = await adminToken(stack.control);
  const log = stack.control.ctx.audit;
  for (let i = 1; i <= FILLED; i += 1)
    await log?.append({ actor: `p${i}`, action: 'plan:write', outcome: 'accepted', status: 200 });
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

async function page(query: string): Promise<{ entries: AuditEntry[]; next?: string }> {
  const answer = await tlsRequest(
    stack.control.url,
    stack.control.ca ?? [],
    'GET',
    `/api/v1/audit?${query}`,
    {
      headers: bearer(token),
    },
  );
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body as unknown as { entries: AuditEntry[]; next?: string };
}

describe('GET /audit', () => {
  it('answers a page and the cursor of the next; following it reads every entry once, in order', async () => {
    const seen: number[] = [];
    let query = 'limit=1000';
    let pages = 0;
    for (;;) {
      const answer = await page(query);
      pages += 1;
      seen.push(...answer.entries.map((e) => e.seq));
      if (answer.next === undefined) break;
      expect(answer.entries).toHaveLength(1000);
      query = `limit=1000&after=${answer.next}`;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i + 1));
    expect(seen.length).toBeGreaterThanOrEqual(FILLED);
  });

  it('refuses a limit above 10,000 and a cursor that is not one', async () => {
    const ca = stack.control.ca ?? [];
    const big = await tlsRequest(stack.control.url, ca, 'GET', '/api/v1/audit?limit=10001', {
      headers: bearer(token),
    });
    expect(big.status).toBe(400);
    const bad = await tlsRequest(stack.control.url, ca, 'GET', '/api/v1/audit?after=nope', {
      headers: bearer(token),
    });
    expect(bad.status).toBe(400);
  });

  it('drctl audit follows the pages to the end', { timeout: 60_000 }, async () => {
    const run = await drctl(
      [
        'audit',
        '--server',
        stack.control.url,
        '--ca',
        join(stack.vaultDir, 'ca.pem'),
        '--token',
        token,
        '--json',
      ],
      {},
    );
    expect(run.code, run.stderr).toBe(0);
    const seqs = run.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as AuditEntry).seq);
    expect(seqs.length).toBeGreaterThanOrEqual(FILLED);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  });
});
