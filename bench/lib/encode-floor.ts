/**
 * The encode floor: ffmpeg alone encoding the very pictures and sound the service composed, with
 * the egress's encoder arguments, at real time. The pictures come from the ingest's recording of
 * the measured broadcast, decoded once to raw I420 and PCM (in memory-backed /dev/shm when there
 * is one) and looped; decoding and reading raw frames costs a small fraction of the encode.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Quality } from '../../src/layout/settings.js';
import { encoderArgParts, outputArgs } from './encode-args.js';
import { runFfmpeg } from './ffmpeg-run.js';

export interface RawClip {
  dir: string;
  video: string;
  audio: string;
  remove(): void;
}

/** A scratch directory in memory where possible (raw video is large: 1.4 MB a frame at 720p). */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), prefix));
}

/** Decodes `durationS` seconds of `recording` from `fromS` to raw yuv420p at `size` and s16le 48 kHz stereo. */
export async function extractRawClip(
  recording: string,
  fromS: number,
  durationS: number,
  size: { width: number; height: number },
): Promise<RawClip> {
  const dir = scratchDir('callcast-floor-');
  const video = join(dir, 'video.yuv');
  const audio = join(dir, 'audio.pcm');
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    await runFfmpeg(
      [
        ...['-hide_banner', '-loglevel', 'error', '-nostdin', '-ss', String(fromS), '-t', String(durationS), '-i', recording],
        ...['-map', '0:v:0', '-vf', `scale=${size.width}:${size.height}`, '-pix_fmt', 'yuv420p', '-f', 'rawvideo', video],
        ...['-map', '0:a:0', '-ar', '48000', '-ac', '2', '-f', 's16le', audio],
      ],
      120_000,
      'decoding the recording',
    );
  } catch (err) {
    remove();
    throw err;
  }
  return { dir, video, audio, remove };
}

/**
 * The egress's encoder arguments with its pipe inputs replaced by the raw clip, looped at real
 * time, and its output sent to `output`. Pure.
 */
export function floorArgs(quality: Quality, clip: Pick<RawClip, 'video' | 'audio'>, output: string): string[] {
  const p = encoderArgParts(quality);
  const loop = ['-re', '-stream_loop', '-1'];
  return [
    ...p.head,
    ...loop,
    ...p.videoInput,
    '-i',
    clip.video,
    ...loop,
    ...p.audioInput,
    '-i',
    clip.audio,
    '-map',
    '0:v:0',
    '-map',
    '1:a:0',
    ...p.encode,
    ...outputArgs(output),
  ];
}
