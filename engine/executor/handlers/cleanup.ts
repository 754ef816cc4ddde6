import type { HandlerContext, HandlerOutcome } from './context.ts';
import { findVm, mutation, requireVm, testVmName, unlessDoneMeanwhile } from './vm.ts';

/**
 * Drill cleanup at the target site: Stop-VMFailover -Test on the replica removes its test VM
 * `<vm> - Test`, as Hyper-V's "Stop Test Failover" does. A test VM already gone needs nothing.
 * Replication and the replica itself are untouched.
 */
export async function cleanupHandler(ctx: HandlerContext): Promise<HandlerOutcome> {
  const vm = requireVm(ctx);
  const testName = testVmName(vm);
  const testVm = await findVm(ctx, testName);
  if (testVm === undefined) {
    return { outcome: 'done', mutated: false, output: { testVm: testName, removed: false } };
  }
  ctx.log.debug({ state: testVm.state }, 'removing the test VM');
  await unlessDoneMeanwhile(
    () => ctx.api.stopVMFailover({ ...mutation(ctx, vm), test: true }),
    () => findVm(ctx, testName),
    (now) => now === undefined,
  );
  return { outcome: 'done', mutated: true, output: { testVm: testName, removed: true } };
}
