/**
 * The vault's inventory (issue 11): agents' batches in, the GET view and pre-flight's read-only
 * host API out. See ARCHITECTURE.md beside this file.
 */
export {
  decodeHosts,
  decodeNetworks,
  decodePoints,
  decodeVm,
  encodePoints,
  encodeVm,
} from './codec.ts';
export { createVaultReadApi, type VaultReadApi, type VaultReadApiOptions } from './read-api.ts';
export { type InventoryRoutesOptions, inventoryRoutes } from './routes.ts';
export { type InventorySample, samplesOf } from './samples.ts';
export {
  createInventoryStore,
  type InventoryStore,
  type SiteMeta,
  type SiteRecords,
  siteKeys,
} from './store.ts';
export { type InventoryQuery, type InventoryView, inventoryView } from './view.ts';
export {
  BATCH_VMS_MAX,
  type BatchAnswer,
  type ChangesBatch,
  type FullBatch,
  INVENTORY_BATCH_BYTES,
  INVENTORY_BODY_LIMIT,
  type InventoryBatch,
  InventoryBatchSchema,
  NAME_MAX,
  POINTS_MAX,
  RESYNC_CODE,
  VM_NAME_MAX,
  type WireHost,
  type WireNetwork,
  type WirePoint,
  type WireVm,
} from './wire.ts';
