/**
 * A control plane of a generated fleet for the dashboard's 10,000-VM test and bench: a real
 * control plane (startControlPlane: sessions, the dashboard, every route) whose vault holds the
 * inventory of both sites of a simulated world (posted by the agents' own inventory reporter
 * over HTTP, each site's session opened by a hello), and the generated plan stored in the vault.
 */
import { startInventoryReporter } from '../../engine/agent/inventory.ts';
import { createApiRequester } from '../../engine/client/index.ts';
import { createLogger } from '../../engine/common/index.ts';
import { AGENT_SESSION_HEADER } from '../../engine/contract/index.ts';
import {
  agentHubOf,
  CONTROL_VERSION,
  type ControlPlane,
  controlRoutes,
  startControlPlane,
} from '../../engine/control/index.ts';
import { generatePlan, parsePlan } from '../../engine/plan/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { worldForPlan } from '../../simulators/index.ts';
import { tokenFor } from '../support/auth.ts';

const silent = createLogger('fleet', { level: 'silent' });

export interface Fleet {
  control: ControlPlane;
  plan: RecoveryPlan;
  admin: string;
  viewer: string;
  close(): Promise<void>;
}

export async function startFleet(options: { vms: number; redisUrl: string; prefix: string }): Promise<Fleet> {
  const text = generatePlan({ vms: options.vms, depth: 10, seed: 1 });
  const parsed = parsePlan(text, 'generated.yaml');
  if (!parsed.ok) throw new Error('the generated plan is invalid');
  const plan = parsed.plan;
  const world = worldForPlan(plan, { clock: { mode: 'manual' }, vmSlotsPerHost: 200 });
  // A day of replication, so every replica holds its hourly recovery points.
  world.advance(24 * 3_600_000 + 5 * 60_000);
  const control = await startControlPlane({
    redisUrl: options.redisUrl,
    prefix: options.prefix,
    port: 0,
    routes: controlRoutes,
    logger: silent,
  });
  const admin = await tokenFor(control, 'admin', { owner: 'fleet-admin' });
  const viewer = await tokenFor(control, 'viewer', { owner: 'fleet-viewer' });
  const request = createApiRequester(control.url, { token: admin });
  for (const site of [plan.source, plan.target]) {
    const { session } = await agentHubOf(control.ctx).sessions.hello({
      site,
      agentId: `agent-${site}`,
      version: CONTROL_VERSION,
      scriptCatalog: { scripts: {} },
    });
    const reporter = startInventoryReporter({
      driver: world.api,
      site,
      log: silent,
      pollMs: 3_600_000,
      post: (path, body) => request('POST', path, { body, headers: { [AGENT_SESSION_HEADER]: session } }),
    });
    await reporter.refreshNow();
    await reporter.close();
  }
  await request('POST', '/api/v1/plans', { body: { file: 'generated.yaml', text } });
  return {
    control,
    plan,
    admin,
    viewer,
    close: async () => {
      await control.close(5000);
    },
  };
}
