/**
 * The dashboard stream for a scoped token (routes/stream.ts `inScope`): the items of its sites,
 * its plans' executions and its sites' VMs pass, every other is left out, `synced` always passes,
 * and an execution's scope is asked once per stream.
 */
import { describe, expect, it } from 'vitest';
import type { ListScope } from '../../engine/control/auth/index.ts';
import { inScope, type StreamItem } from '../../engine/control/routes/stream.ts';

async function* changes(items: StreamItem[]) {
  let seq = 0;
  for (const item of items) {
    seq += 1;
    yield { id: `boot-${seq}`, item };
  }
}

describe("the dashboard stream's scope", () => {
  it('sends a token scoped to dc-east and plan erp only their items', async () => {
    const asked: string[] = [];
    const scope: ListScope = {
      plan: async (name) => name === 'erp',
      execution: async (record) => {
        asked.push(record.id);
        return record.planName === 'erp';
      },
      site: async (name) => name === 'dc-east',
    };
    const execution = (id: string, plan: string): StreamItem => ({
      kind: 'execution',
      id,
      plan,
      type: 'test',
      status: 'running',
      stepsDone: 0,
      stepsTotal: 1,
    });
    const items: StreamItem[] = [
      { kind: 'site', site: 'dc-east', live: true },
      { kind: 'site', site: 'dc-west', live: true },
      execution('drill-1', 'erp'),
      execution('drill-2', 'crm'),
      { kind: 'vm', site: 'dc-east', vm: 'sql-01', health: 'Normal' },
      { kind: 'vm', site: 'dc-west', vm: 'sql-01', health: 'Normal' },
      { kind: 'synced' },
      execution('drill-1', 'erp'),
      execution('drill-2', 'crm'),
    ];
    const sent: { id: string; item: StreamItem }[] = [];
    for await (const change of inScope(changes(items), scope)) sent.push(change);
    expect(sent.map((c) => c.item)).toEqual([
      { kind: 'site', site: 'dc-east', live: true },
      execution('drill-1', 'erp'),
      { kind: 'vm', site: 'dc-east', vm: 'sql-01', health: 'Normal' },
      { kind: 'synced' },
      execution('drill-1', 'erp'),
    ]);
    // The ids stay the watcher's (a reconnect resumes by them).
    expect(sent.map((c) => c.id)).toEqual(['boot-1', 'boot-3', 'boot-5', 'boot-7', 'boot-8']);
    expect(asked).toEqual(['drill-1', 'drill-2']);
  });
});
