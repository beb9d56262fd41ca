/**
 * ffprobe/ffmpeg helpers for asserting on media files written by real ingests.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const TIMEOUT_MS = 60_000;

export interface ProbeResult {
  format: { duration: number };
  video?: { codec: string; width: number; height: number; fps: number; profile?: string; pix_fmt?: string };
  audio?: { codec: string; sampleRate: number; channels: number };
}

function parseRate(r: unknown): number {
  if (typeof r !== 'string') return 0;
  const [n, d] = r.split('/').map(Number);
  if (n === undefined || !Number.isFinite(n)) return 0;
  if (d === undefined) return n;
  return d > 0 ? n / d : 0;
}

export async function probe(path: string): Promise<ProbeResult> {
  const { stdout } = await execFileP('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path], {
    timeout: TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
  const j = JSON.parse(stdout) as {
    format?: { duration?: string };
    streams?: Array<Record<string, unknown>>;
  };
  const result: ProbeResult = { format: { duration: Number(j.format?.duration ?? 0) || 0 } };
  for (const s of j.streams ?? []) {
    if (s.codec_type === 'video' && !result.video) {
      const fps = parseRate(s.avg_frame_rate) || parseRate(s.r_frame_rate);
      result.video = {
        codec: String(s.codec_name),
        width: Number(s.width),
        height: Number(s.height),
        fps,
        ...(typeof s.profile === 'string' ? { profile: s.profile } : {}),
        ...(typeof s.pix_fmt === 'string' ? { pix_fmt: s.pix_fmt } : {}),
      };
    } else if (s.codec_type === 'audio' && !result.audio) {
      result.audio = {
        codec: String(s.codec_name),
        sampleRate: Number(s.sample_rate),
        channels: Number(s.channels),
      };
    }
  }
  return result;
}

/** Presentation times (seconds) of the video keyframes, from the packets' K flag. */
export async function keyframeTimes(path: string): Promise<number[]> {
  const { stdout } = await execFileP(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', path],
    { timeout: TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
  );
  const times: number[] = [];
  for (const line of stdout.split('\n')) {
    const [t, flags] = line.trim().split(',');
    if (t && flags?.includes('K')) {
      const v = Number(t);
      if (Number.isFinite(v)) times.push(v);
    }
  }
  return times.sort((a, b) => a - b);
}

/** The first frame ffmpeg decodes from `input` (its input arguments), scaled to width x height, as packed RGB24. */
async function firstFrameRgb(input: string[], width: number, height: number, timeoutMs: number, what: string): Promise<Buffer> {
  const { stdout } = await execFileP(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      ...input,
      '-frames:v',
      '1',
      '-vf',
      `scale=${width}:${height}`,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      'pipe:1',
    ],
    { timeout: timeoutMs, encoding: 'buffer', maxBuffer: width * height * 3 + 1024 },
  );
  if (stdout.length !== width * height * 3) {
    throw new Error(`${what}: expected ${width * height * 3} bytes, got ${stdout.length}`);
  }
  return stdout;
}

/** One decoded frame at `atSeconds`, scaled to width x height, as packed RGB24. */
export function grabFrameRgb(path: string, atSeconds: number, width: number, height: number): Promise<Buffer> {
  return firstFrameRgb(['-ss', String(atSeconds), '-i', path], width, height, TIMEOUT_MS, 'grabFrameRgb');
}

/** One frame of a live stream (an RTMP URL), scaled to width x height, as packed RGB24. */
export function grabLiveFrameRgb(url: string, width: number, height: number): Promise<Buffer> {
  return firstFrameRgb(['-rw_timeout', '10000000', '-i', url], width, height, 30_000, 'grabLiveFrameRgb');
}

export function pixelAt(buf: Buffer, width: number, x: number, y: number): [number, number, number] {
  const i = (y * width + x) * 3;
  return [buf[i] ?? 0, buf[i + 1] ?? 0, buf[i + 2] ?? 0];
}

/** `durationS` seconds of a file's sound from `fromS`, decoded to s16le stereo 48 kHz. */
export async function decodePcm(path: string, fromS: number, durationS: number): Promise<Buffer> {
  const { stdout } = await execFileP(
    process.env.CALLCAST_FFMPEG || 'ffmpeg',
    ['-v', 'error', '-ss', String(fromS), '-t', String(durationS), '-i', path, '-vn', '-f', 's16le', '-ac', '2', '-ar', '48000', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: 30_000 },
  );
  return stdout;
}
