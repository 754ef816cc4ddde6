/**
 * A VM's history is one Redis string of fixed size (see ARCHITECTURE.md):
 *
 *   [0, 1152)     288 slots of 4 bytes (slot.ts), slot = bucket mod 288
 *   [1152, 1216)  the site of the latest write: 1 length byte + up to 63 bytes of UTF-8
 *
 * The string is created at full size once and never grows: SETRANGE past the end would let Redis
 * grow it greedily (up to twice the size), which is the memory this layout exists to save.
 */
import { SERIES_BUCKETS } from './buckets.ts';
import { SLOT_BYTES } from './slot.ts';

export const SITE_OFFSET = SERIES_BUCKETS * SLOT_BYTES;
/** Site names longer than this are refused (plan site names are at most 63 characters). */
export const SITE_MAX_BYTES = 63;
export const SITE_FIELD_BYTES = 1 + SITE_MAX_BYTES;
export const RING_BYTES = SITE_OFFSET + SITE_FIELD_BYTES;

/**
 * The key of a VM's ring. The hash tag keeps every ring in one Redis Cluster slot, so one Lua
 * script and one MGET may touch thousands of VMs; `v1` names the byte layout above.
 */
export function historyKey(prefix: string, vm: string): string {
  return `${prefix}:{dr-history}:v1:${vm}`;
}
