/**
 * The lifecycle client: what the lifecycle and operator commands do and read, the same whether the
 * engine runs in this process (Redis and the sites' host driver, here) or behind the control plane
 * (http-lifecycle.ts).
 */
import type { Redis } from 'ioredis';
import { InputError } from '../common/index.ts';
import type { OperatorCommandName } from '../contract/index.ts';
import {
  type CompileFn,
  createQueueConnection,
  DEFAULT_PREFIX,
  giveOperatorCommand,
  type LifecycleSubmitted,
  type OperatorReceipt,
} from '../executor/index.ts';
import type { RecoveryPointChoice } from '../plan/types.ts';
import type { HyperVReadApi } from '../preflight/index.ts';
import {
  cancelFailover,
  changeRecoveryPoint,
  commitFailover,
  type FailbackAsk,
  type FailbackSubmitted,
  type FailoverTarget,
  failBack,
  type LifecycleAsk,
  type LifecycleDeps,
  type OldPrimaryReader,
  type ReprotectAsk,
  type ReprotectSubmitted,
  reprotectFailover,
} from './lifecycle.ts';
import { type LifecycleState, readLifecycleState } from './lifecycle-state.ts';
import { createRedisExecutionClient } from './redis-client.ts';
import type { ExecutionClient } from './types.ts';

/** An operator's decision about one step (or, `approve`, a manual action) of a running execution. */
export interface StepAsk {
  execution: string;
  command: OperatorCommandName;
  /** A step id (`sql-01/readiness`, `action/update-dns`) or an action's name. */
  step: string;
  by: string;
  /** Why (retry/skip/done), or the approval's comment. */
  reason: string;
  /** How long to wait for the orchestrator to apply it. @defaultValue 10_000 */
  waitMs?: number;
}

export interface LifecycleClient {
  /** Reading and following executions (the watch of a command). */
  readonly executions: Pick<ExecutionClient, 'get' | 'events'>;
  commit(failover: string, ask: LifecycleAsk & { partial?: boolean }): Promise<LifecycleSubmitted>;
  changePoint(
    failover: string,
    ask: LifecycleAsk & { recoveryPoint: RecoveryPointChoice },
  ): Promise<LifecycleSubmitted>;
  cancel(failover: string, ask: LifecycleAsk): Promise<LifecycleSubmitted>;
  reprotect(target: FailoverTarget, ask: ReprotectAsk): Promise<ReprotectSubmitted>;
  failback(target: FailoverTarget, ask: FailbackAsk): Promise<FailbackSubmitted>;
  step(ask: StepAsk): Promise<OperatorReceipt>;
  /** What a follower reads of a failover or lifecycle execution; undefined while it is not stored. */
  state(id: string, options?: { resync?: boolean }): Promise<LifecycleState | undefined>;
  close(): Promise<void>;
}

export interface RedisLifecycleOptions {
  redisUrl: string;
  /** @defaultValue 'dr' */
  prefix?: string;
  compile: CompileFn;
  /**
   * The sites, as pre-flight reads them before every operation (the CLI's host driver). Without
   * it the operations refuse (NO_SIM); steps and reads work without it.
   */
  hosts?: HyperVReadApi & Partial<OldPrimaryReader>;
}

/** The lifecycle client in this process: Redis and the sites' host driver. */
export function createRedisLifecycleClient(options: RedisLifecycleOptions): LifecycleClient {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const redis: Redis = createQueueConnection(options.redisUrl, { name: 'drctl-lifecycle' });
  const executions = createRedisExecutionClient({
    redisUrl: options.redisUrl,
    prefix,
    compile: options.compile,
    ...(options.hosts === undefined ? {} : { inventory: options.hosts }),
  });
  const deps = (): LifecycleDeps => {
    const hosts = options.hosts;
    if (hosts === undefined)
      throw new InputError(
        'NO_SIM',
        'pre-flight reads the sites before a lifecycle operation: give --sim <url> or set DR_SIM_URL (the URL `drctl sim serve` prints)',
      );
    const full = hosts.getVM !== undefined && hosts.measureVMReplication !== undefined;
    return { redis, prefix, hosts, ...(full ? { oldPrimaries: hosts as OldPrimaryReader } : {}) };
  };
  return {
    executions,
    commit: (failover, ask) => commitFailover(deps(), failover, ask),
    changePoint: (failover, ask) => changeRecoveryPoint(deps(), failover, ask),
    cancel: (failover, ask) => cancelFailover(deps(), failover, ask),
    reprotect: (target, ask) => reprotectFailover(deps(), target, ask),
    failback: (target, ask) => failBack({ ...deps(), submit: executions.submit }, target, ask),
    step: (ask) =>
      giveOperatorCommand(redis, prefix, {
        ...ask,
        // Approvals are checked by the orchestrator; a failed step against the graph here.
        ...(ask.command === 'approve' ? {} : { compile: options.compile }),
      }),
    state: (id, stateOptions) => readLifecycleState(redis, prefix, id, stateOptions),
    close: async () => {
      await executions.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
