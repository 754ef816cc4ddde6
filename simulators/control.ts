import type { FaultAction } from './spec.ts';
import type { WorldTruth } from './truth.ts';

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
}
