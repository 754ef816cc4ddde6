/**
 * A control plane in process over a lifecycle engine (test/lifecycle/support.ts): the site
 * workers and the simulated world here, the orchestrator the control plane's own, and the
 * world's API plugged in as the vault's inventory. Several plans share one world, so one engine
 * can hold a failover committed through the API and another committed in process.
 */
import { whoAmI } from '../../engine/client/index.ts';
import { type ControlPlane, controlRoutes, startControlPlane } from '../../engine/control/index.ts';
import type { RecoveryPlan } from '../../engine/plan/types.ts';
import { worldForPlan } from '../../simulators/index.ts';
import { silent } from '../engine/support.ts';
import { type LifecycleEngine, startLifecycleEngine } from '../lifecycle/support.ts';
import { adminToken, bearer } from '../support/auth.ts';

export interface LifecycleControl {
  engine: LifecycleEngine;
  control: ControlPlane;
  /** An admin token of the control plane (the api() helper sends it). */
  token: string;
  /**
   * A JSON request to the API (`path` under /api/v1): its status and body. Who asks is a token's
   * owner: a `by` in the body is taken out and names the owner of the admin token sent (made on
   * first use); without one, the OS user.
   */
  // biome-ignore lint/suspicious/noExplicitAny: a JSON answer the tests read field by field
  api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function startLifecycleControl(plans: readonly RecoveryPlan[]): Promise<LifecycleControl> {
  const [first] = plans;
  if (first === undefined) throw new Error('give at least one plan');
  const world = worldForPlan(
    { ...first, vms: plans.flatMap((p) => p.vms) },
    { clock: { mode: 'scaled', speed: 2000 }, warmupMs: 5 * 3_600_000 },
  );
  // The sites' workers only: the control plane runs the orchestrator and the control queue.
  const engine = await startLifecycleEngine(first, {
    world,
    orchestrator: false,
    workerSites: [first.source, first.target],
  });
  const control = await startControlPlane({
    redisUrl: engine.redisUrl,
    prefix: engine.prefix,
    port: 0,
    routes: controlRoutes,
    logger: silent,
    leaseMs: 2000,
  });
  control.ctx.inventory = world.api;
  // Owned by the OS user, whom the direct path records: the two paths' answers stay comparable.
  const me = whoAmI();
  const token = await adminToken(control, me);
  const owners = new Map<string, Promise<string>>([[me, Promise.resolve(token)]]);
  const tokenOf = (owner: string): Promise<string> => {
    let made = owners.get(owner);
    if (made === undefined) {
      made = adminToken(control, owner);
      owners.set(owner, made);
    }
    return made;
  };
  return {
    engine,
    control,
    token,
    api: async (method, path, body) => {
      const { by, ...payload } = (body ?? {}) as Record<string, unknown>;
      const reply = await control.app.inject({
        method,
        url: `/api/v1${path}`,
        headers: bearer(await tokenOf(typeof by === 'string' ? by : me)),
        ...(body === undefined ? {} : { payload }),
      });
      return { status: reply.statusCode, body: reply.body === '' ? undefined : reply.json() };
    },
    close: async () => {
      await control.close(5000);
      await engine.close();
    },
  };
}
