import { describe, expect, it } from 'vitest';
import { failurePolicyOf } from '../../engine/executor/orchestrator/failure-policy.ts';
import { compilePlan, parsePlan } from '../../engine/plan/index.ts';

const text = `apiVersion: dr/v1
kind: RecoveryPlan
metadata: { name: p }
spec:
  source: dc-east
  target: dc-west
  vms:
    - { name: a, onFailure: { retries: 4, then: pause } }
  actions:
    - { name: hook, after: a, webhook: "http://127.0.0.1:1/x", onFailure: { retries: 0, then: continue-without-dependents } }
`;

describe("a step's failure policy", () => {
  // Regression: an action attached to a VM took that VM's onFailure (4 retries, pause) and its own
  // `retries: 0` was silently ignored (a webhook meant to be called once was called 5 times).
  it("is an action's own, when the action is attached to a VM", () => {
    const parsed = parsePlan(text, 'p.yaml');
    if (!parsed.ok) throw new Error(parsed.issues.map((i) => i.message).join('; '));
    const plan = parsed.plan;
    const steps = [...compilePlan(plan, { type: 'planned' }).steps.values()];
    const hook = steps.find((s) => s.action === 'hook');
    const failover = steps.find((s) => s.id === 'a/failover');
    expect(hook?.vm).toBe('a');
    const ctx = { plan, vmsByName: new Map(plan.vms.map((vm) => [vm.name, vm])), type: 'planned' as const };
    expect(hook && failurePolicyOf(ctx, hook)).toMatchObject({
      retries: 0,
      outcome: 'continue-without-dependents',
    });
    expect(failover && failurePolicyOf(ctx, failover)).toMatchObject({ retries: 4, outcome: 'pause' });
  });
});
