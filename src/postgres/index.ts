/**
 * `dletter/postgres`: the fleet's central store. Its stats, inspect, requeue and purge take
 * and return the same model as a local log's (re-exported here from `dletter`).
 */
export { PostgresStore } from './store.js'
export type { PostgresStoreEvents } from './store.js'
export type { ShipResult } from './ship.js'
export type { CentralEntry } from './entry.js'
export type { CentralHandler, CentralReplaySummary } from './worker.js'
export type { ConnectOptions, ShipOptions, ShipperOptions, CentralReplayOptions } from './options.js'
export type { PGliteLike } from './db.js'
export type { FailureSeries, FailureSeriesOptions } from '../format/series.js'
export type {
  Kind,
  Stopped,
  TimeInput,
  EntryFilter,
  Progress,
  OperationOptions,
  CentralOptions,
  StatsOptions,
  Stats,
  KindStats,
  RetryStats,
  PermanentStats,
  HostStats,
  ReasonGroup,
  CentralStatsBackend,
  InspectOptions,
  Entry,
  InspectSummary,
  InspectIterable,
  RequeueOptions,
  PurgeOptions,
  ChangeResult,
  RequeueResult,
  PurgeResult,
  CentralChangeBackend,
} from '../format/model.js'
