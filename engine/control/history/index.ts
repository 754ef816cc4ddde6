/**
 * Inventory history: per VM, the worst RPO and replication health of each 5-minute bucket of the
 * last 24 hours, for the dashboard's charts (issue 11). See ARCHITECTURE.md for the encoding.
 */
export {
  DEFAULT_FUTURE_TOLERANCE_MS,
  type HistorySample,
  type PlannedBatch,
  planBatch,
  type RecordCounts,
  VM_MAX_BYTES,
  type VmUpdate,
} from './batch.ts';
export { BUCKET_MS, bucketOf, bucketStart, SERIES_BUCKETS, seriesWindow } from './buckets.ts';
export { historyKey, RING_BYTES, SITE_MAX_BYTES } from './layout.ts';
export { decodeSeries, type HistoryPoint, type VmHistory } from './series.ts';
export { decodeRpo, encodeRpo, RPO_CEILING_SEC } from './slot.ts';
export {
  createHistoryStore,
  DEFAULT_HISTORY_TTL_MS,
  type HistoryStore,
  type HistoryStoreOptions,
  MAX_FUTURE_TOLERANCE_MS,
} from './store.ts';
