/**
 * Arming (issue 13): an admin arms a plan's automatic failover (the plan version stored now), and
 * re-arms it after it was spent; an admin disarms it; a site's maintenance mode disarms every plan
 * of that site for a set time and expires by itself (a Redis key with a TTL); an operator vetoes a
 * decision while its veto window is open. The routes are audited by the API's hook (audit/hook.ts);
 * the notifications are raised here.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DrError } from '../../common/index.ts';
import { createPlanReader, latestPlanVersion } from '../plans/store.ts';
import type { ArmRecord } from './decide.ts';
import { assertDurable } from './durability.ts';
import { autoKeys } from './keys.ts';

/** A decision about one plan after a loss (the last one per plan is kept, for `auto status`). */
export interface DecisionRecord {
  id: string;
  plan: string;
  site: string;
  drill: boolean;
  openedAt: string;
  /** When the veto window closes and the submission may go (wall time). */
  submitAt?: string;
  state: 'veto-window' | 'submitted' | 'vetoed' | 'refused' | 'notified' | 'finished';
  reason?: string;
  vetoedBy?: string;
  execution?: string;
  /** The execution's end, once it ended. */
  finished?: { status: string; at: string };
  /** The lost site came back after this failover: reprotect is offered (never started by itself). */
  returned?: { at: string; reprotect: string };
}

export interface Maintenance {
  site: string;
  until: string;
  by: string;
}

export interface ArmingStore {
  arm(plan: string, by: string): Promise<ArmRecord>;
  disarm(plan: string): Promise<ArmRecord | undefined>;
  arms(): Promise<Map<string, ArmRecord>>;
  /** Claim the arming for a failover: false when it is spent or was replaced meanwhile. */
  spend(arm: ArmRecord, execution: string): Promise<boolean>;
  /** Give a claim back (the submission stored nothing). */
  unspend(arm: ArmRecord): Promise<void>;
  setMaintenance(site: string, forMs: number, by: string): Promise<Maintenance>;
  endMaintenance(site: string): Promise<boolean>;
  maintenance(site: string): Promise<Maintenance | undefined>;
  maintenances(): Promise<Maintenance[]>;
  /** The plan's last decision (a drill's is kept apart: `drill`). */
  decision(plan: string, drill?: boolean): Promise<DecisionRecord | undefined>;
  /** Every last decision, by field (`<plan>`, `<plan>#drill`, `<plan>#failover`). */
  decisions(): Promise<Map<string, DecisionRecord>>;
  putDecision(record: DecisionRecord): Promise<void>;
  /** The plan's last automatic failover (kept apart: later decisions do not replace it). */
  failover(plan: string): Promise<DecisionRecord | undefined>;
  putFailover(record: DecisionRecord): Promise<void>;
  /** Veto an open window (the failover's, else the drill's): the record as vetoed, or why not. */
  veto(plan: string, by: string, reason: string): Promise<DecisionRecord>;
}

/** Claim: only the same arming, not spent. KEYS: arms. ARGV: plan, armId, spent JSON. */
const SPEND = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local arm = cjson.decode(raw)
if arm.armId ~= ARGV[2] or arm.spent then return 0 end
arm.spent = cjson.decode(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(arm))
return 1`;

/** Veto only an open window. KEYS: decisions. ARGV: plan, by, reason. */
const VETO = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local d = cjson.decode(raw)
if d.state ~= 'veto-window' then return raw end
d.state = 'vetoed'
d.vetoedBy = ARGV[2]
d.reason = ARGV[3]
local out = cjson.encode(d)
redis.call('HSET', KEYS[1], ARGV[1], out)
return out`;

const fieldOf = (plan: string, drill: boolean): string => (drill ? `${plan}#drill` : plan);

const parseMap = <T>(raw: Record<string, string>): Map<string, T> =>
  new Map(Object.entries(raw).map(([k, v]) => [k, JSON.parse(v) as T]));

export function createArmingStore(redis: Redis, prefix: string): ArmingStore {
  const keys = autoKeys(prefix);
  const readPlan = createPlanReader(redis, prefix);
  const maintenance = async (site: string): Promise<Maintenance | undefined> => {
    const raw = await redis.get(keys.maintenance(site));
    return raw === null ? undefined : (JSON.parse(raw) as Maintenance);
  };
  return {
    async arm(plan, by) {
      const version = await latestPlanVersion(redis, prefix, plan);
      const parsed = await readPlan(plan, version.hash);
      if (!parsed.automaticFailover.enabled)
        throw new DrError(
          'AUTO_NOT_ENABLED',
          `plan '${plan}' (version ${version.hash.slice(0, 12)}, ${version.file || 'plan.yaml'}: spec.automaticFailover.enabled) does not allow automatic failover: set enabled: true and upload it before arming`,
          { exitCode: 2, details: { status: 409, plan } },
        );
      // A Redis that could lose the submission and its epoch is refused here, not at the loss.
      await assertDurable(redis);
      const record: ArmRecord = {
        plan,
        hash: version.hash,
        site: parsed.source,
        armedBy: by,
        armedAt: new Date().toISOString(),
        armId: randomUUID(),
      };
      await redis.hset(keys.arms, plan, JSON.stringify(record));
      return record;
    },
    async disarm(plan) {
      const raw = await redis.hget(keys.arms, plan);
      if (raw === null) return undefined;
      await redis.hdel(keys.arms, plan);
      return JSON.parse(raw) as ArmRecord;
    },
    arms: async () => parseMap<ArmRecord>(await redis.hgetall(keys.arms)),
    async spend(arm, execution) {
      const spent = JSON.stringify({ execution, at: new Date().toISOString() });
      return (await redis.eval(SPEND, 1, keys.arms, arm.plan, arm.armId, spent)) === 1;
    },
    async unspend(arm) {
      const raw = await redis.hget(keys.arms, arm.plan);
      if (raw === null) return;
      const current = JSON.parse(raw) as ArmRecord;
      if (current.armId !== arm.armId) return;
      delete current.spent;
      await redis.hset(keys.arms, arm.plan, JSON.stringify(current));
    },
    async setMaintenance(site, forMs, by) {
      const record: Maintenance = { site, until: new Date(Date.now() + forMs).toISOString(), by };
      await redis
        .multi()
        .set(keys.maintenance(site), JSON.stringify(record), 'PX', forMs)
        .sadd(keys.maintenanceSites, site)
        .exec();
      return record;
    },
    async endMaintenance(site) {
      const removed = await redis.del(keys.maintenance(site));
      await redis.srem(keys.maintenanceSites, site);
      return removed === 1;
    },
    maintenance,
    async maintenances() {
      const sites = (await redis.smembers(keys.maintenanceSites)).sort();
      const out: Maintenance[] = [];
      for (const site of sites) {
        const m = await maintenance(site);
        if (m === undefined) await redis.srem(keys.maintenanceSites, site);
        else out.push(m);
      }
      return out;
    },
    async decision(plan, drill = false) {
      const raw = await redis.hget(keys.pending, fieldOf(plan, drill));
      return raw === null ? undefined : (JSON.parse(raw) as DecisionRecord);
    },
    decisions: async () => parseMap<DecisionRecord>(await redis.hgetall(keys.pending)),
    async putDecision(record) {
      await redis.hset(keys.pending, fieldOf(record.plan, record.drill), JSON.stringify(record));
    },
    async failover(plan) {
      const raw = await redis.hget(keys.pending, `${plan}#failover`);
      return raw === null ? undefined : (JSON.parse(raw) as DecisionRecord);
    },
    async putFailover(record) {
      await redis.hset(keys.pending, `${record.plan}#failover`, JSON.stringify(record));
    },
    async veto(plan, by, reason) {
      const open = async (field: string) => {
        const raw = await redis.hget(keys.pending, field);
        return raw !== null && (JSON.parse(raw) as DecisionRecord).state === 'veto-window';
      };
      const field = (await open(plan)) || !(await open(fieldOf(plan, true))) ? plan : fieldOf(plan, true);
      const raw = (await redis.eval(VETO, 1, keys.pending, field, by, reason)) as string | null;
      if (raw === null)
        throw new DrError('NOTHING_TO_VETO', `plan '${plan}' has no automatic failover under way`, {
          details: { status: 409, plan },
        });
      const record = JSON.parse(raw) as DecisionRecord;
      if (record.state !== 'vetoed' || record.vetoedBy !== by)
        throw new DrError(
          'VETO_WINDOW_CLOSED',
          `the automatic failover of '${plan}' is past its veto window (${record.state}${record.execution ? `: ${record.execution}` : ''}); cancel the execution instead`,
          { details: { status: 409, plan, state: record.state } },
        );
      return record;
    },
  };
}
