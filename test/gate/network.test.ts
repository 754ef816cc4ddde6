/**
 * Network mapping, judged by the simulator: after a planned failover each VM runs at the target on
 * its mapped failover network with its mapped IP; in a drill each test VM is on its isolated test
 * network with its test IP, and production is not touched.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFailedOver, readLocks } from '../../engine/locks/index.ts';
import { startTestEngine, type TestEngine, waitForStatus } from '../engine/support.ts';
import { testRedisClient } from '../support/redis.ts';
import { erpPlan, gateWorld } from './support.ts';

const engines: TestEngine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
});

describe('network mapping', () => {
  it('a planned failover brings each VM up on its failover network with its IP', async () => {
    const plan = erpPlan();
    const engine = await startTestEngine(plan, { world: gateWorld(plan) });
    engines.push(engine);
    const { id } = await engine.client.submit({ type: 'planned', plan, hash: 'h', reason: 'net' });
    expect((await waitForStatus(engine.client, id, ['completed', 'failed'])).status).toBe('completed');
    const west = await engine.world.api.listVMs('dc-west');
    const truth = engine.world.truth();
    for (const vm of plan.vms) {
      const view = west.find((v) => v.name === vm.name && !v.isTest);
      expect(view?.state, vm.name).toBe('Running');
      expect(view?.network, vm.name).toEqual({ network: 'prod-west', ip: vm.network.failover?.ip });
      expect(truth.mutations[vm.name]?.['dc-west']?.connectVMNetwork, vm.name).toBe(1);
    }
  });

  it('a failback brings each VM home on the network it had there; the failed-over records go', async () => {
    const plan = erpPlan();
    const engine = await startTestEngine(plan, { world: gateWorld(plan) });
    engines.push(engine);
    const home = new Map((await engine.world.api.listVMs('dc-east')).map((vm) => [vm.name, vm.network]));
    const { id, epoch } = await engine.client.submit({ type: 'planned', plan, hash: 'h', reason: 'away' });
    expect((await waitForStatus(engine.client, id, ['completed', 'failed'])).status).toBe('completed');
    // commit and reverse replication, as `drctl commit` + `drctl reprotect` would
    for (const vm of plan.vms) {
      await engine.world.api.completeVMFailover({ site: 'dc-west', vm: vm.name, epoch });
      await engine.world.api.reverseVMReplication({ site: 'dc-west', vm: vm.name, epoch });
    }
    engine.world.advance(2 * 3_600_000);
    const back = await engine.client.submit({
      type: 'planned',
      direction: 'failback',
      plan,
      hash: 'h',
      reason: 'home',
    });
    const view = await waitForStatus(engine.client, back.id, ['completed', 'failed']);
    expect(view.error).toBeUndefined();
    expect(view.status).toBe('completed');
    const east = await engine.world.api.listVMs('dc-east');
    for (const vm of plan.vms) {
      const view = east.find((v) => v.name === vm.name);
      expect(view?.state, vm.name).toBe('Running');
      expect(view?.network, vm.name).toEqual(home.get(vm.name));
    }
    const redis = testRedisClient();
    try {
      expect(
        (
          await readFailedOver(
            redis,
            engine.prefix,
            plan.vms.map((vm) => vm.name),
          )
        ).size,
      ).toBe(0);
      expect(
        (
          await readLocks(
            redis,
            engine.prefix,
            plan.vms.map((vm) => vm.name),
          )
        ).size,
      ).toBe(0);
    } finally {
      await redis.quit();
    }
  });

  it('a drill brings each test VM up on its isolated test network with its test IP, production untouched', async () => {
    const plan = erpPlan();
    const engine = await startTestEngine(plan, { world: gateWorld(plan) });
    engines.push(engine);
    const { id } = await engine.client.submit({ type: 'test', plan, hash: 'h', reason: 'net' });
    expect((await waitForStatus(engine.client, id, ['awaiting-cleanup', 'failed'])).status).toBe(
      'awaiting-cleanup',
    );
    const west = await engine.world.api.listVMs('dc-west');
    const truth = engine.world.truth();
    for (const vm of plan.vms) {
      const test = west.find((v) => v.name === `${vm.name} - Test`);
      expect(test?.isTest, vm.name).toBe(true);
      expect(test?.state, vm.name).toBe('Running');
      expect(test?.network, vm.name).toEqual({ network: 'drill-net', ip: vm.network.test?.ip });
      const record = truth.failovers.find((f) => f.vm === vm.name && f.kind === 'test');
      expect(record?.testNetwork, vm.name).toEqual({ network: 'drill-net', isolated: true });
      expect(truth.mutations[vm.name]?.['dc-east'] ?? {}, vm.name).toEqual({});
      // the replica itself stays a replica, disconnected
      const replica = west.find((v) => v.name === vm.name && !v.isTest);
      expect(replica?.replication?.mode, vm.name).toBe('Replica');
    }
  });
});
