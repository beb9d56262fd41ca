/**
 * Opens RTMP(S) publish sessions for a destination through src/rtmp. The only place the egress
 * touches the stream URL and key; everything else sees `describe` (the target's redacted form).
 */
import { RtmpPublisher, type PublisherPolicy } from '../rtmp/publisher.js';
import { parseRtmpTarget } from '../rtmp/url.js';
import type { PublishSession } from './destination.js';

export interface OpenTargetOptions {
  tls?: { ca?: string | Buffer };
  /** Timeouts, send-buffer bound and stall rule of each session; src/rtmp's defaults otherwise. */
  policy?: Partial<PublisherPolicy>;
  /** Resolves and checks the address each session connects to (the destination policy, src/net). */
  resolveAddress?: (host: string, port: number) => Promise<{ address: string }>;
}

export interface OpenedTarget {
  /** For logs and reasons: scheme://host:port/app, stream key redacted. */
  describe: string;
  createSession: () => PublishSession;
}

/** Validates the target (throws on a malformed URL, without the key in the message) and returns how to open sessions to it. */
export type RtmpTargetOpener = (streamUrl: string, streamKey: string, opts: OpenTargetOptions) => OpenedTarget;

export const openRtmpTarget: RtmpTargetOpener = (streamUrl, streamKey, opts) => {
  const target = parseRtmpTarget(streamUrl, streamKey);
  return {
    describe: target.redacted,
    createSession: () =>
      new RtmpPublisher(target, {
        ...opts.policy,
        ...(opts.tls ? { tls: opts.tls } : {}),
        ...(opts.resolveAddress ? { resolveAddress: opts.resolveAddress } : {}),
      }),
  };
};
