/**
 * The FLV tag as the egress handles it: the shape of src/rtmp/flv.ts's `FlvTag` (structurally
 * identical, so tags from the demuxer are passed through as they are).
 */
export interface FlvTag {
  type: 'audio' | 'video' | 'script';
  /** Milliseconds. */
  timestamp: number;
  /** The tag body (without the 11-byte FLV tag header). */
  data: Buffer;
  keyframe: boolean;
  sequenceHeader: boolean;
}
