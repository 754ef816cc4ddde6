import type { FaultAction } from './spec.ts';
import type { WorldTruth } from './truth.ts';
import type { ReplicationSeqs } from './views.ts';

/**
 * What the simulator offers besides Hyper-V's own API, in-process and over HTTP alike: the ground
 * truth, fault injection, time control for tests, and canary writes.
 */
export interface SimControl {
  truth(): Promise<WorldTruth>;
  fault(action: FaultAction): Promise<void>;
  /** Jump simulated time forward by `ms` (any clock mode). */
  advance(ms: number): Promise<string>;
  /** Acknowledge one write carrying `payload` on a running VM; returns its sequence number. */
  writeCanary(site: string, vm: string, payload: string): Promise<number>;
  /** The payload of write `seq` if this VM's disk holds it, else null. */
  readCanary(site: string, vm: string, seq: number): Promise<string | null>;
  /**
   * The write sequence numbers behind one VM's replication as `site` holds it (acknowledged,
   * received, applied, and each recovery point's): ground truth, for tests and `drctl sim`.
   * Measure-VMReplication has nothing like it, so the host-driver interface does not either.
   */
  replicationSeqs(site: string, vm: string): Promise<ReplicationSeqs>;
}
