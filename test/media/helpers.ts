/**
 * Shared pieces of the media tests: a Fastify app on 127.0.0.1:0 with the WHIP routes and a test
 * authorize function, pixel and tone checks.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { ApiError, ErrorCodes } from '../../src/wire/errors.js';
import { CallMedia, type CallMediaOptions, type PublisherIdentity } from '../../src/media/call-media.js';
import { installHttpConventions } from '../../src/http/edge.js';
import { whipPlugin } from '../../src/http/whip.js';
import { samplesOf } from '../../src/media/mixer.js';
import type { Rgb } from '../../src/layout/color.js';
import { i420Planes } from '../../src/render/i420-frame.js';

export interface WhipTestApp {
  app: FastifyInstance;
  media: CallMedia;
  base: string;
  whipUrl(callType: string, callId: string): string;
  close(): Promise<void>;
}

/** Tokens are user ids: 'viewer' may send nothing, 'novideo' only audio; call id 'ended' is over. */
export const USERS: Record<string, PublisherIdentity> = {
  alice: { userId: 'alice', name: 'Alice Red', roles: ['user'], canSendAudio: true, canSendVideo: true },
  bob: { userId: 'bob', name: 'Bob Blue', roles: ['user'], canSendAudio: true, canSendVideo: true },
  carol: { userId: 'carol', name: 'Carol', roles: ['host'], canSendAudio: true, canSendVideo: true },
  viewer: { userId: 'viewer', roles: ['user'], canSendAudio: false, canSendVideo: false },
  novideo: { userId: 'novideo', roles: ['user'], canSendAudio: true, canSendVideo: false },
};

async function authorize(req: FastifyRequest, _type: string, id: string): Promise<PublisherIdentity> {
  const token = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
  const user = token ? USERS[token] : undefined;
  if (!user) throw new ApiError(401, ErrorCodes.auth, 'missing or invalid token');
  if (id === 'ended') throw new ApiError(400, ErrorCodes.input, 'the call has ended');
  return user;
}

export async function startWhipApp(options: CallMediaOptions = {}): Promise<WhipTestApp> {
  const app = Fastify({ logger: false });
  installHttpConventions(app);
  const media = new CallMedia({ ice: { host: '127.0.0.1' }, ...options });
  await whipPlugin(app, { media, authorize, log: { info() {}, warn() {} }, publicUrl: '' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const base = `http://127.0.0.1:${port}`;
  return {
    app,
    media,
    base,
    whipUrl: (t, id) => `${base}/api/v2/video/call/${t}/${id}/whip`,
    async close() {
      await media.close();
      await app.close();
    },
  };
}

/** The RGB colour of pixel (x, y) of an I420 frame (BT.601 limited range). */
export function i420PixelRgb(data: Buffer, width: number, height: number, x: number, y: number): Rgb {
  const Y = data[y * width + x]!;
  const p = i420Planes(width, height);
  const ci = (y >> 1) * p.chromaWidth + (x >> 1);
  const U = data[p.uOffset + ci]!;
  const V = data[p.vOffset + ci]!;
  const c = 1.164 * (Y - 16),
    d = U - 128,
    e = V - 128;
  const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
  return { r: clamp(c + 1.596 * e), g: clamp(c - 0.392 * d - 0.813 * e), b: clamp(c + 2.017 * d) };
}

export function near(a: Rgb, b: Rgb, tolerance = 40): boolean {
  return Math.abs(a.r - b.r) <= tolerance && Math.abs(a.g - b.g) <= tolerance && Math.abs(a.b - b.b) <= tolerance;
}

/** Goertzel power of `freq` in the left channel of s16le stereo PCM at 48 kHz. */
export function tonePower(pcm: Buffer, freq: number): number {
  const s = samplesOf(pcm);
  const n = Math.floor(s.length / 2);
  const k = (2 * Math.PI * freq) / 48000;
  const coeff = 2 * Math.cos(k);
  let s1 = 0,
    s2 = 0;
  for (let i = 0; i < n; i++) {
    const x = s[2 * i]! / 32768;
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / Math.max(1, n);
}

/** The strongest frequency among 100..3000 Hz in 10 Hz steps. */
export function dominantFrequency(pcm: Buffer): number {
  let best = 0,
    bestPower = -1;
  for (let f = 100; f <= 3000; f += 10) {
    const p = tonePower(pcm, f);
    if (p > bestPower) {
      bestPower = p;
      best = f;
    }
  }
  return best;
}

export const RED: Rgb = { r: 255, g: 0, b: 0 };
export const BLUE: Rgb = { r: 0, g: 0, b: 255 };
