/**
 * The baseline: ffmpeg alone encoding a synthetic picture and tone with exactly the encoder
 * settings the egress uses (src/egress/qualities.ts `encoderArgs`), in real time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Quality } from '../../src/layout/settings.js';
import { qualityProfile } from '../../src/egress/qualities.js';
import { encoderArgParts, outputArgs } from './encode-args.js';
import { stopFfmpeg } from './ffmpeg-run.js';

/**
 * The egress encoder's arguments with its two pipe inputs replaced by real-time lavfi sources
 * (testsrc2 of the quality's size and rate, and a sine tone) and its output sent to `output`
 * (an RTMP URL, or "null" for the null muxer). Pure.
 */
export function baselineArgs(quality: Quality, output: string, durationS?: number, source = 'testsrc2'): string[] {
  const p = qualityProfile(quality);
  const parts = encoderArgParts(quality);
  const video =
    source === 'testsrc2'
      ? `testsrc2=size=${p.width}x${p.height}:rate=${p.fps}`
      : `color=c=${source}:size=${p.width}x${p.height}:rate=${p.fps}`;
  const inputs = ['-re', '-f', 'lavfi', '-i', video, '-re', '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${p.audioSampleRate}`];
  const limit = durationS === undefined ? [] : ['-t', String(durationS)];
  return [...parts.head, ...inputs, '-map', '0:v:0', '-map', '1:a:0', ...parts.encode, ...limit, ...outputArgs(output)];
}

export interface BaselineEncode {
  child: ChildProcess;
  pid: number;
  stop(): Promise<void>;
}

/** Starts one baseline encode (until stopped). */
export function startBaseline(quality: Quality, output: string, source?: string): BaselineEncode {
  const child = spawn(process.env.CALLCAST_FFMPEG || 'ffmpeg', baselineArgs(quality, output, undefined, source), {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.resume();
  return {
    child,
    pid: child.pid!,
    stop: () => stopFfmpeg(child),
  };
}
