/**
 * The contract between the control plane (which owns broadcast state and the API) and the egress
 * (which produces the broadcasts). The control plane calls `start`/`stop`; the egress reports what
 * happened through the listener. Nothing here does I/O.
 */
import type { LayoutSettings, Quality } from '../layout/settings.js';

export interface BroadcastSpec {
  /** "<type>:<id>" */
  callCid: string;
  /** The broadcast's name, unique among the call's active broadcasts. */
  name: string;
  /** As given by the API user, e.g. "rtmps://x.rtmps.youtube.com/live2". */
  streamUrl: string;
  /** May be empty; appended as `${streamUrl}/${streamKey}`. Secret: never log it. */
  streamKey: string;
  /** Effective quality after request -> call -> call type resolution. */
  quality: Quality;
  /** Effective layout after request -> call -> call type resolution. */
  layout: LayoutSettings;
}

export type DestinationState = 'connecting' | 'live' | 'reconnecting' | 'failed' | 'stopped';

export interface DestinationStats {
  name: string;
  state: DestinationState;
  bytesSent: number;
  videoFramesSent: number;
  audioFramesSent: number;
  /** Bits per second over the last few seconds. */
  bitrate: number;
  reconnects: number;
  lastError: string | null;
  /** ISO time the server first accepted the publish, or null. */
  liveSince: string | null;
  /** The encode feeding this destination has fallen behind real time (frames dropped or late). */
  degraded?: boolean;
}

export interface EgressListener {
  /** The destination's server accepted the publish and the first video frame went out. */
  onStarted(callCid: string, name: string): void;
  /** The destination gave up (refused, unreachable for too long, ...). It is no longer active. */
  onFailed(callCid: string, name: string, reason: string): void;
  /** The destination was stopped on request and closed. */
  onStopped(callCid: string, name: string): void;
}

export interface BroadcastEngine {
  /** Starts producing the broadcast in the background; returns at once. */
  start(spec: BroadcastSpec): void;
  /**
   * Changes a running broadcast's layout without a new session (the destination moves to the
   * encode of its new layout at a keyframe). False when it is not active; throws when the new
   * encode cannot start (the broadcast keeps its layout).
   */
  changeLayout(callCid: string, name: string, layout: LayoutSettings): boolean;
  /** Stops one destination (FCUnpublish, deleteStream, close). Resolves when closed. */
  stop(callCid: string, name: string): Promise<void>;
  /** Stops everything (service shutdown). Does not report onStopped. Idempotent. */
  close(): Promise<void>;
  /** Live stats of the call's destinations. */
  stats(callCid: string): DestinationStats[];
  /** Number of running encoder processes (for tests and metrics). */
  encoderCount(): number;
}
