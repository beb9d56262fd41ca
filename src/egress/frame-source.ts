/**
 * Where a broadcast group's pictures and sound come from. The compositor implements this; until
 * it is wired in, the default source paints the layout's background colour and plays silence.
 */
import { parseColor, type Rgb } from '../layout/color.js';
import type { LayoutSettings, Quality } from '../layout/settings.js';
import { solidI420Frame } from '../render/i420.js';
import { PCM_BYTES_PER_SAMPLE_FRAME, qualityProfile } from './qualities.js';

export interface FrameSource {
  /**
   * One I420 frame of the quality's size, for presentation time `ptsMs`. The caller does not
   * modify it, and the source must not modify it afterwards either (until it gets it back through
   * `releaseFrame`): it is queued to the encoder as is.
   */
  videoFrame(ptsMs: number): Buffer;
  /**
   * Optional: the caller is done with a frame from `videoFrame` (the encoder's pipe has taken it),
   * so the source may draw into that buffer again. Sources that allocate per frame ignore it.
   */
  releaseFrame?(frame: Buffer): void;
  /** `sampleFrames` frames of s16le stereo 48 kHz PCM starting at `ptsMs`. */
  audioSamples(ptsMs: number, sampleFrames: number): Buffer;
  /** Optional: sound filled with silence (late) and dropped (too late) since the source started, in sample frames. */
  audioStats?(): AudioSourceStats;
  /**
   * Optional: calls `listener` once if the source gives up for good (a layout app that does not
   * load or keeps crashing); the group then fails its destinations with that reason.
   */
  onFailure?(listener: (reason: string) => void): void;
  close(): void;
}

export interface AudioSourceStats {
  underrunSampleFrames: number;
  droppedSampleFrames: number;
}

export type FrameSourceFactory = (callCid: string, quality: Quality, layout: LayoutSettings) => FrameSource;

/** One I420 frame filled with a single colour (drawn by the render module). */
export { solidI420Frame };

/** The layout's canvas background colour (`layout.background_color`, default black). */
export function layoutBackgroundColor(layout: LayoutSettings): Rgb {
  const opts = layout.options ?? {};
  const c = parseColor(opts['layout.background_color']);
  return c ? { r: c.r, g: c.g, b: c.b } : { r: 0, g: 0, b: 0 };
}

/** A source that shows the layout's background colour and plays silence. */
export class BackgroundFrameSource implements FrameSource {
  private readonly frame: Buffer;
  private silence: Buffer = Buffer.alloc(0);

  constructor(quality: Quality, layout: LayoutSettings) {
    const { width, height } = qualityProfile(quality);
    this.frame = solidI420Frame(width, height, layoutBackgroundColor(layout));
  }

  videoFrame(_ptsMs: number): Buffer {
    return this.frame;
  }

  audioSamples(_ptsMs: number, sampleFrames: number): Buffer {
    const bytes = sampleFrames * PCM_BYTES_PER_SAMPLE_FRAME;
    if (this.silence.length < bytes) this.silence = Buffer.alloc(bytes);
    return this.silence.subarray(0, bytes);
  }

  close(): void {}
}

export const backgroundFrameSourceFactory: FrameSourceFactory = (_callCid, quality, layout) => new BackgroundFrameSource(quality, layout);
