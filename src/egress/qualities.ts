/**
 * Output qualities (DESIGN.md, "Output qualities") and the ffmpeg command line that encodes one.
 * Pure: no I/O.
 */
import { canvasFor, type Quality } from '../layout/settings.js';

export interface QualityProfile {
  quality: Quality;
  width: number;
  height: number;
  fps: number;
  /** Video bitrate, kbit/s (CBR target, also the VBV max rate). */
  videoKbps: number;
  /** Seconds between keyframes. */
  keyframeIntervalS: number;
  /** Frames between keyframes (fps * keyframeIntervalS). */
  gopFrames: number;
  audioKbps: number;
  audioSampleRate: number;
  audioChannels: number;
}

const VIDEO_KBPS: Record<Quality, number> = {
  '360p': 800,
  'portrait-360x640': 800,
  '480p': 1200,
  'portrait-480x854': 1200,
  '720p': 3000,
  'portrait-720x1280': 3000,
  '1080p': 5000,
  'portrait-1080x1920': 5000,
  '1440p': 9000,
  'portrait-1440x2560': 9000,
};

export const OUTPUT_FPS = 30;
export const KEYFRAME_INTERVAL_S = 2;
export const AUDIO_SAMPLE_RATE = 48000;
export const AUDIO_CHANNELS = 2;
export const AUDIO_KBPS = 128;
/** Bytes per PCM sample frame: s16le stereo. */
export const PCM_BYTES_PER_SAMPLE_FRAME = 2 * AUDIO_CHANNELS;

export function qualityProfile(quality: Quality): QualityProfile {
  const { width, height } = canvasFor(quality);
  return {
    quality,
    width,
    height,
    fps: OUTPUT_FPS,
    videoKbps: VIDEO_KBPS[quality],
    keyframeIntervalS: KEYFRAME_INTERVAL_S,
    gopFrames: OUTPUT_FPS * KEYFRAME_INTERVAL_S,
    audioKbps: AUDIO_KBPS,
    audioSampleRate: AUDIO_SAMPLE_RATE,
    audioChannels: AUDIO_CHANNELS,
  };
}

/** Size in bytes of one I420 (yuv420p) frame: the one size rule of src/render/i420-frame.ts. */
export { i420Bytes as i420FrameBytes } from '../render/i420-frame.js';

export interface EncoderArgsOptions {
  /** x264 threads; omitted lets x264 decide. */
  threads?: number;
  /** ffmpeg log level; default "warning". */
  logLevel?: string;
}

/**
 * The ffmpeg arguments (without the program name) that encode one quality:
 * input 0 = raw I420 frames on stdin, input 1 = s16le PCM on fd 3, output = FLV on stdout.
 */
export function encoderArgs(quality: Quality | QualityProfile, opts: EncoderArgsOptions = {}): string[] {
  const p = typeof quality === 'string' ? qualityProfile(quality) : quality;
  const kbps = p.videoKbps;
  const args = [
    '-hide_banner',
    '-loglevel',
    opts.logLevel ?? 'warning',
    '-nostats',
    '-nostdin',
    // Input 0: raw video frames, timestamped by frame count at the output rate.
    // The inputs are fully described: no probing (which would wait for megabytes of frames).
    '-probesize',
    '32',
    '-analyzeduration',
    '0',
    '-thread_queue_size',
    '64',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'yuv420p',
    '-s',
    `${p.width}x${p.height}`,
    '-r',
    String(p.fps),
    '-i',
    'pipe:0',
    // Input 1: PCM, timestamped by sample count.
    '-probesize',
    '32',
    '-analyzeduration',
    '0',
    '-thread_queue_size',
    '64',
    '-f',
    's16le',
    '-ar',
    String(p.audioSampleRate),
    '-ac',
    String(p.audioChannels),
    '-ch_layout',
    p.audioChannels === 1 ? 'mono' : 'stereo',
    '-i',
    'pipe:3',
    '-map',
    '0:v:0',
    '-map',
    '1:a:0',
    // Video: H.264 High, constant bitrate with a VBV buffer, fixed GOP, no B-frames.
    '-c:v',
    'libx264',
    '-profile:v',
    'high',
    '-pix_fmt',
    'yuv420p',
    '-preset',
    'veryfast',
    '-tune',
    'zerolatency',
    '-r',
    String(p.fps),
    '-b:v',
    `${kbps}k`,
    '-minrate',
    `${kbps}k`,
    '-maxrate',
    `${kbps}k`,
    '-bufsize',
    `${kbps * 2}k`,
    '-g',
    String(p.gopFrames),
    '-keyint_min',
    String(p.gopFrames),
    '-sc_threshold',
    '0',
    '-bf',
    '0',
    // Constant bitrate with filler (as ingests expect, even for a still picture), constant frame rate.
    '-x264-params',
    'nal-hrd=cbr:force-cfr=1',
  ];
  if (opts.threads !== undefined) args.push('-threads', String(opts.threads));
  args.push(
    // Audio: AAC-LC.
    '-c:a',
    'aac',
    '-profile:a',
    'aac_low',
    '-b:a',
    `${p.audioKbps}k`,
    '-ar',
    String(p.audioSampleRate),
    '-ac',
    String(p.audioChannels),
    // Output: FLV on stdout, no seeking back to patch duration/filesize.
    '-flvflags',
    'no_duration_filesize',
    '-f',
    'flv',
    'pipe:1',
  );
  return args;
}
