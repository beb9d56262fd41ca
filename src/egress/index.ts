/** The egress plane's public surface. */
export type { BroadcastEngine, BroadcastSpec, DestinationState, DestinationStats, EgressListener } from './contract.js';
export { EgressEngine, type EgressEngineOptions, type EngineDestinationStats } from './engine.js';
export { renderMetrics } from './metrics.js';
export {
  BackgroundFrameSource,
  backgroundFrameSourceFactory,
  type FrameSource,
  type FrameSourceFactory,
} from './frame-source.js';
export { qualityProfile, encoderArgs, i420FrameBytes, type QualityProfile } from './qualities.js';
