/**
 * The simulator implements the engine's host-driver interface (engine/hosts): the same views,
 * operations and error codes. The names below are the simulator's own for them.
 */
export type {
  GuardView,
  GuestHeartbeat,
  HostDriver as HyperVApi,
  HostErrorCode as SimErrorCode,
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
} from '../engine/hosts/index.ts';
