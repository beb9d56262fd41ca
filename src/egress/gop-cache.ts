/**
 * What a destination joining a running encode needs, as an RTMP server's GOP cache keeps it:
 * the latest onMetaData, the AVC and AAC sequence headers, and the tags since the last video
 * keyframe (bounded in bytes). Pure: no I/O.
 */
import type { FlvTag } from '../flv/tag.js';

export interface JoinSnapshot {
  metadata: FlvTag | null;
  /** AVC then AAC sequence header (those present). */
  sequenceHeaders: FlvTag[];
  /** From the latest video keyframe on; empty if none is cached. */
  gop: FlvTag[];
}

export const DEFAULT_GOP_CACHE_MAX_BYTES = 8 * 1024 * 1024;

export class GopCache {
  private metadata: FlvTag | null = null;
  private avcHeader: FlvTag | null = null;
  private aacHeader: FlvTag | null = null;
  private gop: FlvTag[] = [];
  private gopBytes = 0;
  /** True while the current GOP outgrew the bound: nothing is cached until the next keyframe. */
  private overflowed = false;

  constructor(private readonly maxBytes: number = DEFAULT_GOP_CACHE_MAX_BYTES) {}

  push(tag: FlvTag): void {
    if (tag.type === 'script') {
      this.metadata = tag;
      return;
    }
    if (tag.sequenceHeader) {
      if (tag.type === 'video') this.avcHeader = tag;
      else this.aacHeader = tag;
      return;
    }
    if (tag.type === 'video' && tag.keyframe) {
      this.gop = [];
      this.gopBytes = 0;
      this.overflowed = false;
    } else if (this.gop.length === 0 || this.overflowed) {
      // Nothing to join before the first keyframe, nor in a GOP that did not fit.
      return;
    }
    if (this.gopBytes + tag.data.length > this.maxBytes) {
      this.gop = [];
      this.gopBytes = 0;
      this.overflowed = true;
      return;
    }
    this.gop.push(tag);
    this.gopBytes += tag.data.length;
  }

  /** Forgets everything (the encoder restarted: its headers and timeline are new). */
  reset(): void {
    this.metadata = null;
    this.avcHeader = null;
    this.aacHeader = null;
    this.gop = [];
    this.gopBytes = 0;
    this.overflowed = false;
  }

  get bytes(): number {
    return this.gopBytes;
  }

  get hasSequenceHeaders(): boolean {
    return this.avcHeader !== null;
  }

  snapshotForJoin(): JoinSnapshot {
    const sequenceHeaders: FlvTag[] = [];
    if (this.avcHeader) sequenceHeaders.push(this.avcHeader);
    if (this.aacHeader) sequenceHeaders.push(this.aacHeader);
    return { metadata: this.metadata, sequenceHeaders, gop: [...this.gop] };
  }
}
