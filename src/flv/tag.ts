/**
 * The FLV tag: what the encoder's FLV output is demuxed into, what the GOP cache keeps and what an
 * RTMP publisher sends as an audio, video or data message. Pure.
 */

export interface FlvTag {
  type: 'audio' | 'video' | 'script';
  /** Milliseconds (32-bit, from the tag's timestamp and extended timestamp bytes). */
  timestamp: number;
  /** The tag body (without the 11-byte tag header). */
  data: Buffer;
  /** Video: a key frame (frame type 1). Audio and script: false. */
  keyframe: boolean;
  /** AVC/HEVC decoder configuration (video) or AAC AudioSpecificConfig (audio). */
  sequenceHeader: boolean;
}

export function isKeyframe(type: FlvTag['type'], data: Buffer): boolean {
  return type === 'video' && data.length > 0 && data[0]! >> 4 === 1;
}

export function isSequenceHeader(type: FlvTag['type'], data: Buffer): boolean {
  if (type === 'video') {
    if (data.length < 2) return false;
    const codec = data[0]! & 0x0f;
    // AVC (7) and HEVC (12, common FLV extension): packet type 0 = sequence header.
    return (codec === 7 || codec === 12) && data[1] === 0;
  }
  if (type === 'audio') {
    // AAC (sound format 10): packet type 0 = AudioSpecificConfig.
    return data.length >= 2 && data[0]! >> 4 === 10 && data[1] === 0;
  }
  return false;
}
