/**
 * What a user would run instead of the service: one ffmpeg process that decodes the participants'
 * streams (recorded as the bench's publishers send them: VP8 640x360 + Opus), composes them into
 * the same spotlight geometry the service draws (computed by the service's own pure layout
 * engine, src/layout/scene.ts) with its own filters (scale/crop to cover, overlay, drawbox +
 * drawtext labels, amix), and encodes with the egress's encoder arguments, at real time.
 * Not drawn: rounded tile corners and the speaking outline (ffmpeg has no cheap filter for them).
 */
import { join } from 'node:path';
import type { Quality } from '../../src/layout/settings.js';
import { canvasFor } from '../../src/layout/settings.js';
import type { LayoutParticipant } from '../../src/layout/participants.js';
import { composeScene, type Scene } from '../../src/layout/scene.js';
import type { Rgba } from '../../src/layout/color.js';
import { PUBLISHER_VIDEO_CODEC, publisherAudioCodec } from '../../test/support/publisher.js';
import { encoderArgParts, outputArgs } from './encode-args.js';
import { runFfmpeg } from './ffmpeg-run.js';

export interface ParticipantClip {
  /** The participant's session id in the scene. */
  sessionId: string;
  path: string;
}

const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

/** The participants of the bench's calls, as the layout engine sees them (all with video, nobody speaking). */
export function benchParticipants(names: readonly string[]): LayoutParticipant[] {
  return names.map((name, i) => ({
    sessionId: `s${i}`,
    userId: name,
    name,
    roles: ['host'],
    hasVideo: true,
    hasAudio: true,
    isSpeaking: false,
    isDominantSpeaker: false,
    joinedAt: 1000 + i,
    videoSize: { width: 640, height: 360 },
  }));
}

export function spotlightScene(quality: Quality, participants: LayoutParticipant[]): Scene {
  return composeScene({
    canvas: canvasFor(quality),
    participants,
    layout: { name: 'spotlight', external_app_url: '', external_css_url: '' },
    nowMs: 10_000,
  });
}

const hex = (c: Rgba) => `0x${[c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;
const even = (v: number) => Math.max(2, 2 * Math.round(v / 2));
const drawtextEscape = (s: string) => s.replace(/[\\:'%,]/g, (c) => `\\${c}`);

/**
 * ffmpeg arguments composing `clips` into `scene` (looped inputs at real time) and encoding with the
 * egress's settings to `output`. Pure.
 */
export function compositionArgs(quality: Quality, scene: Scene, clips: readonly ParticipantClip[], output: string): string[] {
  const p = encoderArgParts(quality);
  const index = new Map(clips.map((c, i) => [c.sessionId, i]));
  const inputs = clips.flatMap((c) => ['-re', '-stream_loop', '-1', '-i', c.path]);
  const chains: string[] = [];
  const bg = scene.items.find((i) => i.kind === 'background');
  const bgColor = bg && bg.kind === 'background' ? hex(bg.color) : '0x000000';
  chains.push(`color=c=${bgColor}:s=${scene.width}x${scene.height}:r=30[base]`);
  let last = 'base';
  let n = 0;
  const labels: string[] = [];
  for (const item of scene.items) {
    if (item.kind === 'tile') {
      const i = index.get(item.sessionId);
      if (i === undefined) continue;
      const w = even(item.rect.width);
      const h = even(item.rect.height);
      const fit =
        item.fit === 'cover'
          ? `scale=${w}:${h}:force_original_aspect_ratio=increase,crop=${w}:${h}`
          : `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:color=${hex(item.videoBackground)}`;
      chains.push(`[${i}:v]${fit},setsar=1[t${n}]`);
      chains.push(`[${last}][t${n}]overlay=x=${Math.round(item.rect.x)}:y=${Math.round(item.rect.y)}:eof_action=repeat[o${n}]`);
      last = `o${n}`;
      n += 1;
    } else if (item.kind === 'label') {
      const x = Math.round(item.rect.x + item.paddingInline);
      const y = Math.round(item.rect.y + (item.rect.height - item.fontSize) / 2);
      labels.push(
        `drawtext=fontfile=${FONT}:text='${drawtextEscape(item.text)}':fontsize=${item.fontSize}:fontcolor=${hex(item.textColor)}:x=${x}:y=${y}:box=1:boxcolor=${hex(item.background)}@${(item.background.a / 255).toFixed(2)}:boxborderw=${item.paddingInline}`,
      );
    }
  }
  chains.push(`[${last}]${[...labels, 'format=yuv420p'].join(',')}[v]`);
  chains.push(`${clips.map((_, i) => `[${i}:a]`).join('')}amix=inputs=${clips.length}:normalize=0[a]`);
  return [...p.head, ...inputs, '-filter_complex', chains.join(';'), '-map', '[v]', '-map', '[a]', ...p.encode, ...outputArgs(output)];
}

/** Records one participant's stream as the bench's publishers send it (test/support/publisher.ts). */
export function recordClipArgs(color: string, toneHz: number, durationS: number, path: string): string[] {
  return [
    ...['-hide_banner', '-loglevel', 'error', '-nostdin', '-y'],
    ...['-f', 'lavfi', '-i', `color=c=${color}:size=640x360:rate=30`, '-f', 'lavfi', '-i', `sine=frequency=${toneHz}:sample_rate=48000`],
    ...['-t', String(durationS), '-map', '0:v', '-map', '1:a'],
    ...PUBLISHER_VIDEO_CODEC,
    ...publisherAudioCodec(),
    path,
  ];
}

export async function recordClips(dir: string, colours: readonly string[], tones: readonly number[], durationS: number): Promise<string[]> {
  const paths: string[] = [];
  for (let i = 0; i < colours.length; i++) {
    const path = join(dir, `participant-${i}.webm`);
    await runFfmpeg(recordClipArgs(colours[i]!, tones[i]!, durationS, path), 60_000, `recording participant ${i}`);
    paths.push(path);
  }
  return paths;
}
