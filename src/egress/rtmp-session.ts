/**
 * Opens RTMP(S) publish sessions for a destination through src/rtmp. The only place the egress
 * touches the stream URL and key; everything else sees `describe` (key redacted).
 */
import { RtmpPublisher } from '../rtmp/publisher.js';
import { describeTarget, parseRtmpTarget } from '../rtmp/url.js';
import type { PublishSession } from './destination.js';
import type { FlvTag } from './flv-tag.js';

export interface OpenTargetOptions {
  tls?: { ca?: string | Buffer };
  maxBufferedBytes?: number;
  /** Resolves and checks the address each session connects to (the destination policy). */
  resolveAddress?: (host: string, port: number) => Promise<{ address: string }>;
}

export interface OpenedTarget {
  /** For logs and reasons: scheme://host:port/app, stream key redacted. */
  describe: string;
  createSession: () => PublishSession;
}

/** Validates the target (throws on a malformed URL) and returns how to open sessions to it. */
export type RtmpTargetOpener = (streamUrl: string, streamKey: string, opts: OpenTargetOptions) => OpenedTarget;

const SET_DATA_FRAME = Buffer.from([0x02, 0x00, 0x0d, ...Buffer.from('@setDataFrame', 'ascii')]);

/**
 * Script tags from the encoder carry "onMetaData" + properties; an RTMP publisher sends them as
 * "@setDataFrame", "onMetaData", properties (as ingest servers expect).
 */
export function asSetDataFrame(tag: FlvTag): FlvTag {
  if (tag.type !== 'script' || tag.data.subarray(0, SET_DATA_FRAME.length).equals(SET_DATA_FRAME)) return tag;
  return { ...tag, data: Buffer.concat([SET_DATA_FRAME, tag.data]) };
}

class RtmpPublishSession implements PublishSession {
  constructor(private readonly publisher: RtmpPublisher) {}
  connect(): Promise<void> {
    return this.publisher.connect();
  }
  sendTag(tag: FlvTag, timestamp: number): boolean {
    return this.publisher.sendTag(tag.type === 'script' ? asSetDataFrame(tag) : tag, timestamp);
  }
  bufferedBytes(): number {
    return this.publisher.bufferedBytes();
  }
  get bytesSent(): number {
    return this.publisher.bytesSent;
  }
  close(): Promise<void> {
    return this.publisher.close();
  }
  on(event: 'close', listener: (err: Error | null) => void): this {
    this.publisher.on(event, listener);
    return this;
  }
}

export const openRtmpTarget: RtmpTargetOpener = (streamUrl, streamKey, opts) => {
  const target = parseRtmpTarget(streamUrl, streamKey);
  const describe = describeTarget(target);
  return {
    describe,
    createSession: () =>
      new RtmpPublishSession(
        new RtmpPublisher(target, {
          ...(opts.tls ? { tls: opts.tls } : {}),
          ...(opts.maxBufferedBytes !== undefined ? { maxBufferedBytes: opts.maxBufferedBytes } : {}),
          ...(opts.resolveAddress ? { resolveAddress: opts.resolveAddress } : {}),
        }),
      ),
  };
};
