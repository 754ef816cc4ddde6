/**
 * The control plane in this process (startControlPlane: API, orchestrator, control-side actions)
 * over the run's Redis, pre-flight reading the simulated world in process, and each site's workers
 * in process: what a cloud control plane and its two sites' agents do, minus the agents' transport.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpExecutionClient, type HttpExecutionClient, whoAmI } from '../../engine/client/index.ts';
import { type ControlPlane, controlRoutes, startControlPlane } from '../../engine/control/index.ts';
import { parsePlan } from '../../engine/plan/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { actionFixtures, silent, startTestEngine, type TestEngine } from '../engine/support.ts';
import { adminToken, bearer } from '../support/auth.ts';

export interface ApiEngine {
  control: ControlPlane;
  /** The sites' workers and the world (its own orchestrator is not started: the control plane's runs). */
  engine: TestEngine;
  client: HttpExecutionClient;
  /** An admin token of this control plane, and the header that carries it (for raw requests). */
  token: string;
  auth: { authorization: string };
  plan: RecoveryPlan;
  hash: string;
  /** The plan file the CLI reads (the example, its webhook pointed at the fixtures' receiver). */
  file: string;
  text: string;
  close(): Promise<void>;
}

export async function startApiEngine(example = 'plans/examples/three-tier.yaml'): Promise<ApiEngine> {
  const fixtures = await actionFixtures();
  const text = readFileSync(example, 'utf8').replace(/webhook: \S+/g, `webhook: ${fixtures.webhookUrl}`);
  const dir = mkdtempSync(join(tmpdir(), 'drorch-api-'));
  const file = join(dir, 'plan.yaml');
  writeFileSync(file, text);
  const parsed = parsePlan(text, file);
  if (!parsed.ok) throw new Error(`${example}: ${parsed.issues.map((i) => i.message).join('; ')}`);
  const engine = await startTestEngine(parsed.plan, {
    catalog: fixtures.catalog,
    orchestrator: false,
    workerSites: [parsed.plan.source, parsed.plan.target],
  });
  const control = await startControlPlane({
    redisUrl: engine.redisUrl,
    prefix: engine.prefix,
    port: 0,
    routes: controlRoutes,
    inventory: engine.world.api,
    scriptCatalog: fixtures.catalog,
    leaseMs: 2000,
    logger: silent,
  });
  // Owned by the OS user, as the direct path records who asks: both paths' answers compare equal.
  const token = await adminToken(control, whoAmI());
  const client = createHttpExecutionClient({ server: control.url, token });
  return {
    control,
    engine,
    client,
    token,
    auth: bearer(token),
    plan: parsed.plan,
    hash: parsed.hash,
    file,
    text,
    close: async () => {
      await client.close();
      await control.close(5000);
      await engine.close();
      await fixtures.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
