import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createCanvas } from '@napi-rs/canvas';
import { composeScene, type Scene } from '../../src/layout/scene.js';
import type { LayoutParticipant } from '../../src/layout/participants.js';
import { silentLogger } from '../../src/log.js';
import { FrameCompositor, type TileFrame } from '../../src/render/compositor.js';
import { fillI420, pixelAt, rgbToYuv, type Yuv } from '../../src/render/i420.js';
import { allocI420 } from '../../src/render/i420-frame.js';
import { DestinationPolicy } from '../../src/net/destination-policy.js';
import { ImageStore } from '../../src/render/images.js';

/** The image server of these tests listens on loopback, which the default policy refuses. */
const LOOPBACK_ALLOWED = DestinationPolicy.fromAllowList('127.0.0.1');
import { sceneImageUrls } from '../../src/render/sprites.js';

function png(width: number, height: number, color: string): Buffer {
  const c = createCanvas(width, height);
  const ctx = c.getContext('2d');
  ctx.fillStyle = color;
  ctx.fillRect(0, 0, width, height);
  return c.toBuffer('image/png');
}

let server: Server;
let base = '';
const hits = new Map<string, number>();

before(async () => {
  const red = png(80, 40, '#ff0000');
  const big = Buffer.alloc(64 * 1024, 1);
  const green = png(16, 16, '#00ff00');
  const yellow = png(50, 50, '#ffff00');
  server = createServer((req, res) => {
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
    if (req.url === '/logo.png') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(red);
    } else if (req.url === '/bg.png' || req.url === '/avatar.png') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(req.url === '/bg.png' ? green : yellow);
    } else if (req.url === '/big.png') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(big);
    } else if (req.url === '/not-an-image.png') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end('hello');
    } else if (req.url === '/redirect-to-logo.png') {
      res.writeHead(302, { location: '/logo.png' });
      res.end();
    } else if (req.url === '/redirect-to-metadata.png') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
      res.end();
    } else if (req.url === '/hang.png') {
      // never answers; the client's timeout must give up
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function person(i: number, extra: Partial<LayoutParticipant> = {}): LayoutParticipant {
  return {
    sessionId: `s${i}`,
    userId: `u${i}`,
    name: `Person ${i}`,
    roles: [],
    hasVideo: true,
    hasAudio: true,
    isSpeaking: false,
    isDominantSpeaker: false,
    joinedAt: i,
    ...extra,
  };
}

function sceneOf(
  W: number,
  H: number,
  name: 'grid' | 'spotlight' | 'single-participant',
  ps: LayoutParticipant[],
  options: Record<string, unknown>,
): Scene {
  return composeScene({
    canvas: { width: W, height: H },
    participants: ps,
    nowMs: 0,
    layout: { name, external_app_url: '', external_css_url: '', options },
  });
}

function close(a: Yuv, b: Yuv, tolerance = 3): boolean {
  return Math.abs(a.y - b.y) <= tolerance && Math.abs(a.u - b.u) <= tolerance && Math.abs(a.v - b.v) <= tolerance;
}
function assertColor(
  frame: Buffer,
  W: number,
  H: number,
  x: number,
  y: number,
  rgb: { r: number; g: number; b: number },
  what: string,
): void {
  const got = pixelAt(frame, W, H, Math.round(x), Math.round(y));
  const want = rgbToYuv(rgb);
  assert.ok(close(got, want), `${what} at (${Math.round(x)},${Math.round(y)}): got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

function solidFrame(width: number, height: number, rgb: { r: number; g: number; b: number }): TileFrame {
  return { data: fillI420(allocI420(width, height), width, height, { ...rgb, a: 255 }), width, height };
}

describe('FrameCompositor', () => {
  it('empty state: background colour and title, returned from cache', () => {
    const W = 640,
      H = 360;
    const scene = sceneOf(W, H, 'spotlight', [], {
      'layout.background_color': '#203040',
      'title.text': 'WWWWWWWW',
      'title.font_size': '40px',
    });
    const c = new FrameCompositor({ width: W, height: H });
    c.setScene(scene, new ImageStore());
    const frame = c.compose(new Map());
    assert.equal(frame.length, W * H * 1.5);
    const bg = { r: 0x20, g: 0x30, b: 0x40 };
    assertColor(frame, W, H, 320, 300, bg, 'background');
    assertColor(frame, W, H, 600, 20, bg, 'background top-right');
    const title = scene.items.find((i) => i.kind === 'title')!;
    assert.ok(title.kind === 'title');
    let differing = 0;
    for (let y = Math.ceil(title.rect.y); y < title.rect.y + title.rect.height; y++) {
      for (let x = 14; x < 200; x++) if (!close(pixelAt(frame, W, H, x, y), rgbToYuv(bg))) differing++;
    }
    assert.ok(differing > 200, `the title is drawn (${differing} pixels differ from the background)`);
    assert.equal(c.compose(new Map()), frame, 'no per-frame work without participants');
  });

  it('draws a logo loaded from a loopback server at its anchored corner', async () => {
    const W = 1280,
      H = 720;
    const scene = sceneOf(W, H, 'grid', [], { 'logo.image_url': `${base}/logo.png` });
    const images = new ImageStore({ policy: LOOPBACK_ALLOWED });
    await images.loadAll(sceneImageUrls(scene));
    await images.load(`${base}/logo.png`);
    assert.equal(hits.get('/logo.png'), 1, 'fetched once');
    const c = new FrameCompositor({ width: W, height: H });
    c.setScene(scene, images);
    const frame = c.compose(new Map());
    // default: bottom-right, 40 px high, width from the 2:1 image, .875rem margins
    assertColor(frame, W, H, W - 14 - 40, H - 14 - 20, { r: 255, g: 0, b: 0 }, 'logo centre');
    assertColor(frame, W, H, W - 14 - 2, H - 14 - 2, { r: 255, g: 0, b: 0 }, 'logo bottom-right');
    assertColor(frame, W, H, W - 14 - 84, H - 14 - 20, { r: 0, g: 0, b: 0 }, 'left of the logo');
    assertColor(frame, W, H, W - 6, H - 6, { r: 0, g: 0, b: 0 }, 'margin');
    assertColor(frame, W, H, 60, 34, { r: 0, g: 0, b: 0 }, 'top-left corner is empty');
  });

  it('copies tile frames into the rects composeScene gave, with rounded corners and labels', () => {
    const W = 1280,
      H = 720;
    const scene = sceneOf(W, H, 'grid', [person(0), person(1, { isSpeaking: true })], { 'layout.background_color': '#000000' });
    const c = new FrameCompositor({ width: W, height: H });
    c.setScene(scene, new ImageStore());
    const rects = c.tileRects();
    assert.equal(rects.size, 2);
    const red = { r: 255, g: 0, b: 0 },
      blue = { r: 0, g: 0, b: 255 };
    const frames = new Map<string, TileFrame>();
    frames.set('s0', solidFrame(rects.get('s0')!.width, rects.get('s0')!.height, red));
    frames.set('s1', solidFrame(rects.get('s1')!.width, rects.get('s1')!.height, blue));
    const frame = c.compose(frames);
    const rectOf = (id: string) => {
      const t = scene.items.find((i) => i.kind === 'tile' && i.sessionId === id);
      assert.ok(t && t.kind === 'tile');
      return t.rect;
    };
    const r0 = rectOf('s0'),
      r1 = rectOf('s1');
    assertColor(frame, W, H, r0!.x + r0!.width / 2, r0!.y + r0!.height / 2, red, 'tile 0 centre');
    assertColor(frame, W, H, r1!.x + r1!.width / 2, r1!.y + r1!.height / 2, blue, 'tile 1 centre');
    assertColor(frame, W, H, r0!.x + 1, r0!.y + 1, { r: 0, g: 0, b: 0 }, 'rounded corner shows the background');
    assertColor(frame, W, H, r0!.x + r0!.width / 2, r0!.y - 8, { r: 0, g: 0, b: 0 }, 'above the tile');
    // label at bottom-left: dark #121416 background over the red tile
    assertColor(frame, W, H, r0!.x + 30, r0!.y + r0!.height - 2, { r: 0x12, g: 0x14, b: 0x16 }, 'label background');
    // speaking outline (#005fff) just outside tile 1
    assertColor(frame, W, H, r1!.x + r1!.width / 2, r1!.y - 1, { r: 0, g: 0x5f, b: 0xff }, 'outline');
    // a tile without a frame shows its placeholder
    const partial = c.compose(new Map([['s0', frames.get('s0')!]]));
    assertColor(partial, W, H, r1!.x + 20, r1!.y + r1!.height / 2, { r: 0x19, g: 0x23, b: 0x2d }, 'placeholder behind a missing frame');
  });

  it('draws into released frames again, never into frames still in use', () => {
    const W = 640,
      H = 360;
    const scene = sceneOf(W, H, 'grid', [person(0)], { 'layout.background_color': '#000000' });
    const c = new FrameCompositor({ width: W, height: H });
    c.setScene(scene, new ImageStore());
    const rect = c.tileRects().get('s0')!;
    const red = { r: 255, g: 0, b: 0 },
      blue = { r: 0, g: 0, b: 255 };
    const centre = [rect.x + rect.width / 2, rect.y + rect.height / 2] as const;
    const first = c.compose(new Map([['s0', solidFrame(rect.width, rect.height, red)]]));
    const second = c.compose(new Map([['s0', solidFrame(rect.width, rect.height, blue)]]));
    assert.notEqual(first, second, 'a frame not released is not drawn into');
    assertColor(first, W, H, centre[0], centre[1], red, 'first frame unchanged');
    c.release(first);
    c.release(Buffer.alloc(first.length)); // not one of its frames: ignored
    const third = c.compose(new Map([['s0', solidFrame(rect.width, rect.height, blue)]]));
    assert.equal(third, first, 'the released frame is reused');
    assertColor(third, W, H, centre[0], centre[1], blue, 'redrawn completely');
    assertColor(third, W, H, 2, 2, { r: 0, g: 0, b: 0 }, 'background restored');
    assertColor(second, W, H, centre[0], centre[1], blue, 'frame in use untouched');
  });

  it('placeholders show the initials circle colour', () => {
    const W = 1280,
      H = 720;
    const scene = sceneOf(W, H, 'grid', [person(0, { hasVideo: false }), person(1, { hasVideo: false, name: 'Zed' })], {});
    const c = new FrameCompositor({ width: W, height: H });
    c.setScene(scene, new ImageStore());
    const frame = c.compose(new Map());
    for (const p of scene.items) {
      if (p.kind !== 'placeholder') continue;
      const cx = p.rect.x + p.rect.width / 2,
        cy = p.rect.y + p.rect.height / 2;
      assertColor(frame, W, H, cx, cy + 30, { r: 0, g: 0x5f, b: 0xff }, `${p.sessionId} circle (below the initials)`);
      assertColor(frame, W, H, cx - 30, cy, { r: 0, g: 0x5f, b: 0xff }, `${p.sessionId} circle (left of the initials)`);
      assertColor(frame, W, H, p.rect.x + 20, cy, { r: 0x19, g: 0x23, b: 0x2d }, `${p.sessionId} placeholder background`);
      let white = 0;
      for (let y = cy - 16; y < cy + 16; y++)
        for (let x = cx - 24; x < cx + 24; x++) if (pixelAt(frame, W, H, Math.round(x), Math.round(y)).y > 200) white++;
      assert.ok(white > 20, `${p.sessionId} initials are drawn (${white} light pixels)`);
    }
  });

  it('draws a background image and avatar images from the loopback server', async () => {
    const W = 640,
      H = 360;
    const scene = sceneOf(W, H, 'single-participant', [person(0, { hasVideo: false, image: `${base}/avatar.png` })], {
      'layout.background_image': `url(${base}/bg.png)`,
      'layout.background_size': 'cover',
      'layout.single-participant.padding_inline': '100px',
      'layout.single-participant.padding_block': '100px',
    });
    const images = new ImageStore({ policy: LOOPBACK_ALLOWED });
    await images.loadAll(sceneImageUrls(scene));
    const c = new FrameCompositor({ width: W, height: H });
    c.setScene(scene, images);
    const frame = c.compose(new Map());
    assertColor(frame, W, H, 20, 20, { r: 0, g: 255, b: 0 }, 'background image');
    assertColor(frame, W, H, W / 2, H / 2, { r: 255, g: 255, b: 0 }, 'avatar in the circle');
    assertColor(frame, W, H, 120, H / 2, { r: 0x19, g: 0x23, b: 0x2d }, 'placeholder around the avatar');
  });

  it('a spotlight scene at 1080p composes every tile', () => {
    const W = 1920,
      H = 1080;
    const ps = [0, 1, 2].map((i) => person(i));
    const scene = sceneOf(W, H, 'spotlight', ps, { 'participant_label.display': false });
    const c = new FrameCompositor({ width: W, height: H });
    c.setScene(scene, new ImageStore());
    const colors = [
      { r: 0, g: 255, b: 0 },
      { r: 255, g: 255, b: 0 },
      { r: 255, g: 0, b: 255 },
    ];
    const frames = new Map<string, TileFrame>();
    [...c.tileRects()].forEach(([id, r], i) => frames.set(id, solidFrame(r.width, r.height, colors[i]!)));
    const frame = c.compose(frames);
    [...c.tileRects()].forEach(([id, r], i) => assertColor(frame, W, H, r.x + r.width / 2, r.y + r.height / 2, colors[i]!, id));
    assert.throws(() => c.setScene(sceneOf(1280, 720, 'grid', ps, {}), new ImageStore()), /scene is 1280x720/);
  });
});

describe('ImageStore', () => {
  it('remembers failures instead of throwing', async () => {
    const warnings: unknown[] = [];
    const images = new ImageStore({
      log: { ...silentLogger, warn: (o: unknown) => void warnings.push(o) },
      maxBytes: 32 * 1024,
      timeoutMs: 300,
      policy: LOOPBACK_ALLOWED,
    });
    await images.load(`${base}/missing.png?token=secret`);
    await images.load(`${base}/missing.png?token=secret`);
    assert.equal(images.get(`${base}/missing.png?token=secret`), undefined);
    assert.match(images.failure(`${base}/missing.png?token=secret`)!, /404/);
    assert.equal(hits.get('/missing.png?token=secret'), 1, 'a failure is remembered, not retried per frame');
    assert.ok(!JSON.stringify(warnings).includes('secret'), 'query strings are not logged');
    await images.load(`${base}/big.png`);
    assert.match(images.failure(`${base}/big.png`)!, /larger than/);
    await images.load(`${base}/not-an-image.png`);
    assert.ok(images.failure(`${base}/not-an-image.png`));
    await images.load(`${base}/hang.png`);
    assert.equal(images.failure(`${base}/hang.png`), 'timed out');
    await images.load('file:///etc/passwd');
    assert.match(images.failure('file:///etc/passwd')!, /only http/);
    assert.equal(warnings.length, 5);
  });
  it('refuses internal addresses by default, and redirects to them even from an allowed server', async () => {
    const warnings: unknown[] = [];
    const strict = new ImageStore({ log: { ...silentLogger, warn: (o: unknown) => void warnings.push(o) } });
    await strict.load(`${base}/logo.png?by=strict`);
    assert.match(strict.failure(`${base}/logo.png?by=strict`)!, /127\.0\.0\.1:\d+ is a loopback address/);
    assert.equal(hits.get('/logo.png?by=strict'), undefined, 'no request reached the loopback server');
    for (const url of [
      'http://2130706433/x.png',
      'http://[::1]/x.png',
      'http://169.254.169.254/x.png',
      'http://0.0.0.0/x.png',
      'http://localhost/x.png',
    ]) {
      await strict.load(url);
      assert.match(strict.failure(url) ?? '', /address, which outgoing connections may not reach/, url);
    }
    const images = new ImageStore({ policy: LOOPBACK_ALLOWED });
    await images.load(`${base}/redirect-to-metadata.png`);
    assert.match(images.failure(`${base}/redirect-to-metadata.png`)!, /169\.254\.169\.254:80 is a link-local address/);
    await images.load(`${base}/redirect-to-logo.png`);
    assert.equal(images.get(`${base}/redirect-to-logo.png`)?.width, 80, 'a redirect to an allowed address is followed');
    console.log(`refusals: ${JSON.stringify(warnings.slice(0, 2))}`);
  });
  it('decodes data: URLs', async () => {
    const url = `data:image/png;base64,${png(4, 2, '#00ff00').toString('base64')}`;
    const images = new ImageStore();
    await images.load(url);
    assert.equal(images.get(url)?.width, 4);
  });
});
