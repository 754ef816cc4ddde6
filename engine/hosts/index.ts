/** The host-driver seam: the engine's interface to Hyper-V hosts (see ARCHITECTURE.md). */
export type {
  AutomaticStartAction,
  GuardView,
  GuestHeartbeat,
  HostDriver,
  HostErrorCode,
  HostView,
  NetworkAttachment,
  NetworkView,
  PowerState,
  RecoveryPoint,
  RecoveryPointSelector,
  ReplicationHealth,
  ReplicationMeasure,
  ReplicationMode,
  ReplicationState,
  VmReplicationView,
  VmView,
} from './driver.ts';
export { HOST_ERROR_CODES, isHostErrorCode, RETRYABLE_HOST_ERRORS } from './errors.ts';
export { pointFor } from './points.ts';
