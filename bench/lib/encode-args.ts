/**
 * The egress encoder's arguments (src/egress/qualities.ts `encoderArgs`) cut into the parts the
 * baselines reuse: the global head, the description of each pipe input, and the encode options
 * (codecs, rate control, GOP) without input mapping or output. Pure; throws when `encoderArgs`
 * changes shape, so that a baseline never silently encodes differently from the service.
 */
import type { Quality } from '../../src/layout/settings.js';
import { encoderArgs } from '../../src/egress/qualities.js';

export interface EncoderArgParts {
  /** Before the first input (log level, -nostdin...). */
  head: string[];
  /** Options describing input 0 (raw video), without `-i pipe:0`. */
  videoInput: string[];
  /** Options describing input 1 (PCM), without `-i pipe:3`. */
  audioInput: string[];
  /** Encode options: codecs, rate control, GOP, audio; no -map, no output. */
  encode: string[];
}

export function encoderArgParts(quality: Quality): EncoderArgParts {
  const args = encoderArgs(quality);
  const v = args.indexOf('pipe:0');
  const a = args.indexOf('pipe:3');
  const firstInputOpt = args.indexOf('-probesize');
  const out = args.lastIndexOf('pipe:1');
  if (v < 1 || a < v || firstInputOpt < 0 || firstInputOpt > v || args[v - 1] !== '-i' || args[a - 1] !== '-i') {
    throw new Error('encoderArgs changed shape (inputs): update bench/lib/encode-args.ts');
  }
  if (out !== args.length - 1 || args[out - 1] !== 'flv' || args[out - 2] !== '-f') {
    throw new Error('encoderArgs changed shape (output): update bench/lib/encode-args.ts');
  }
  const encode: string[] = [];
  const rest = args.slice(a + 1, out - 2);
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '-map') {
      i += 1;
      continue;
    }
    encode.push(rest[i]!);
  }
  return { head: args.slice(0, firstInputOpt), videoInput: args.slice(firstInputOpt, v - 1), audioInput: args.slice(v + 1, a - 1), encode };
}

/** `-f flv URL`, or the null muxer for "null". */
export function outputArgs(output: string): string[] {
  return output === 'null' ? ['-f', 'null', '-'] : ['-f', 'flv', output];
}
