import { createSimClient, type SimClient } from '../../simulators/index.ts';
import type { HostDriver } from '../hosts/index.ts';

/**
 * The CLI's one wiring of a host driver: today the simulated Hyper-V hosts of `drctl sim serve`,
 * reached over HTTP; a WinRM/PowerShell connector plugs in here later. Nothing else in the engine
 * knows which driver it talks to.
 */
export function connectHostDriver(
  url: string,
  options: { readBeforeHeartbeatWait?: boolean } = {},
): HostDriver & { close(): void } {
  return createSimClient({ url, ...options });
}

/** The simulator itself (driver, controls and ground truth), for what only a simulated world has. */
export function connectSimulator(url: string): SimClient {
  return createSimClient(url);
}
