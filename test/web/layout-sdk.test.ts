/**
 * The layout module (`/sdk/layout.js`) in Debian's Chromium: a layout app of a few lines, served by
 * the test on its own 127.0.0.1 origin, imports the module from Callcast (cross-origin), gets the
 * call from `window.setupLayout(config)` (called as Callcast's layout browser does, with a recorder
 * token), and shows each participant's stream in a <video>. Decoded pixels of each video are the
 * publisher's colour; the microphone arrives for the participant who has one; the speaking and
 * dominant-speaker flags (events WebSocket) follow the one who sounds; the token renewal event is
 * applied; a participant who joins later appears with live video and one who leaves disappears.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { mintRecorderToken } from '../../src/render/browser/recorder-token.js';
import { launchChromium, type ChromiumSession } from '../support/chromium.js';
import { TestPublisher } from '../support/publisher.js';
import { startTestCallcast, type TestCallcast } from '../support/callcast.js';
import { waitFor } from '../support/wait.js';
import { buildWebPages, WEB_ROOT } from './harness.js';
import { closeServer, listenOnLoopback } from '../support/http-server.js';

const CID = 'default:sdk-app';

type Rgb = [number, number, number];
const near = (a: readonly number[] | null | undefined, b: Rgb, tol = 50) => !!a && b.every((v, i) => Math.abs(v - a[i]!) <= tol);

/** The layout app: each participant with a stream in a <video data-user=...>; what it knows in `window.people`. */
const appHtml = (callcast: string) => `<!doctype html>
<meta charset="utf-8">
<title>Layout app with /sdk/layout.js</title>
<script type="module">
  import { layoutConfig, connectLayout, attachStream, markReady } from '${callcast}/sdk/layout.js';
  const call = await connectLayout(await layoutConfig());
  const videos = new Map();
  call.onChange((participants) => {
    for (const p of participants) {
      let v = videos.get(p.sessionId);
      if (!v) {
        v = document.createElement('video');
        v.dataset.user = p.userId;
        document.body.append(v);
        videos.set(p.sessionId, v);
      }
      attachStream(v, p.stream);
    }
    for (const [id, v] of videos) if (!participants.some((p) => p.sessionId === id)) (v.remove(), videos.delete(id));
    window.people = participants.map((p) => ({
      user: p.userId, speaking: p.isSpeaking, dominant: p.isDominantSpeaker,
      tracks: p.stream ? p.stream.getTracks().map((t) => t.kind).sort() : [],
    }));
    markReady();
  });
</script>`;

/** The centre pixel of the user's video as decoded by the page, or null while it has none. */
function centreOf(page: Page, user: string): Promise<number[] | null> {
  return page.evaluate(`(() => {
    const v = document.querySelector('video[data-user="${user}"]');
    if (!v || v.videoWidth === 0) return null;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0);
    return Array.from(g.getImageData(c.width >> 1, c.height >> 1, 1, 1).data.slice(0, 3));
  })()`);
}

interface Person {
  user: string;
  speaking: boolean;
  dominant: boolean;
  tracks: string[];
}
const people = (page: Page): Promise<Person[]> => page.evaluate('window.people ?? []');

describe('the layout module in a layout app', { timeout: 240_000 }, () => {
  let svc: TestCallcast;
  let app: Server;
  let appUrl: string;
  let chromium: ChromiumSession;
  const publishers = new Map<string, TestPublisher>();

  before(async () => {
    await buildWebPages();
    svc = await startTestCallcast({ webRoot: WEB_ROOT });
    const html = appHtml(svc.url);
    app = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(html);
    });
    appUrl = `${await listenOnLoopback(app)}/app.html`;
    await svc.client.upsertUsers(['alice', 'bob', 'carol'].map((id) => ({ id, name: id, role: 'user' })));
    chromium = await launchChromium({ loopbackIce: true });
  });
  after(async () => {
    await Promise.all([...publishers.values()].map((p) => p.close()));
    await chromium?.close();
    await svc?.close();
    await closeServer(app);
  });

  test('participants with live streams, speaking flags, joins and leaves', async () => {
    const call = svc.client.video.call('default', 'sdk-app');
    const created = await call.getOrCreate({ data: { created_by_id: 'alice' } });
    const whip = created.call.ingress.whip.address;
    const publish = async (user: string, color: string, audio: boolean) => {
      const token = svc.client.generateUserToken({ user_id: user, validity_in_seconds: 600 });
      publishers.set(user, await TestPublisher.start({ url: whip, token, color, audio }));
      await waitFor(() => svc.server.media.participants(CID).some((p) => p.userId === user && p.videoSize), `${user} decoded`, 60_000);
    };
    // Bob without a microphone; Alice, with a tone (she speaks), joins once the page listens to
    // events (speaking flags are changes: who speaks before the page connects shows at the next one).
    await publish('bob', 'blue', false);

    const page = await chromium.newPage({ width: 640, height: 360 });
    // The app's origin is not Callcast's: the module comes cross-origin.
    const sdk = await fetch(`${svc.url}/sdk/layout.js`);
    assert.equal(sdk.status, 200);
    assert.equal(sdk.headers.get('access-control-allow-origin'), '*');
    assert.match(String(sdk.headers.get('content-type')), /javascript/);
    const types = await (await fetch(`${svc.url}/sdk/layout.d.ts`)).text();
    assert.match(types, /export declare function connectLayout/);

    await page.goto(appUrl);
    await page.waitForFunction("typeof window.setupLayout === 'function'");
    const recorder = await mintRecorderToken(svc.apiSecret, CID);
    const config = {
      call_id: 'sdk-app',
      call_type: 'default',
      api_key: svc.apiKey,
      token: recorder.token,
      user_id: recorder.userId,
      base_url: svc.url,
      layout: 'custom',
      screenshare_layout: 'custom',
      options: {},
      ext_css: '',
      log_level: 'info',
    };
    await page.evaluate(`void window.setupLayout(${JSON.stringify(config)})`);
    await page.waitForSelector('#egress-ready-for-capture', { state: 'attached' });
    // The events connection has been accepted once the recorder user is stored (upserted on connect).
    await waitFor(
      async () => (await svc.client.queryUsers({ payload: { filter_conditions: { id: recorder.userId } } })).users.length === 1,
      'the page connected to the events',
      30_000,
      200,
    );
    await publish('alice', 'red', true);

    const colours = async () => ({
      alice: await centreOf(page, 'alice'),
      bob: await centreOf(page, 'bob'),
      carol: await centreOf(page, 'carol'),
    });
    const until = async (what: string, ok: (c: Awaited<ReturnType<typeof colours>>, ps: Person[]) => boolean) => {
      let last: unknown;
      await waitFor(
        async () => {
          const [c, ps] = [await colours(), await people(page)];
          last = { colours: c, people: ps };
          return ok(c, ps);
        },
        what,
        60_000,
        250,
      ).catch(async (err) => {
        const videos = await page.evaluate(
          `[...document.querySelectorAll('video')].map((v) => ({ user: v.dataset.user, w: v.videoWidth, state: v.readyState, paused: v.paused, tracks: v.srcObject ? v.srcObject.getTracks().map((t) => t.kind + ':' + t.readyState + (t.muted ? ':muted' : '')) : null }))`,
        );
        throw new Error(
          `${(err as Error).message}: ${JSON.stringify(last)}; videos ${JSON.stringify(videos)}; page errors: ${chromium.errorsOf(page).join(' | ')}`,
        );
      });
    };

    await until('alice red and bob blue, decoded in the page', (c) => near(c.alice, [255, 0, 0]) && near(c.bob, [0, 0, 255]));
    // A stream's tracks arrive one by one (and a participant's sound may be published after her
    // picture): wait for Alice's microphone before the list is checked.
    await until('alice with her microphone', (_c, list) => list.find((p) => p.user === 'alice')?.tracks.includes('audio') === true);
    const ps = await people(page);
    assert.deepEqual(
      ps.map((p) => [p.user, p.tracks]),
      [
        ['bob', ['video']],
        ['alice', ['audio', 'video']],
      ],
      'join order; the microphone of who has one',
    );
    await until('alice speaking and dominant', (_c, list) => {
      const a = list.find((p) => p.user === 'alice');
      return !!a && a.speaking && a.dominant && !list.some((p) => p.user === 'bob' && (p.speaking || p.dominant));
    });

    // The token is renewed by a `callcast:token` event: a bad one is used at once (the next
    // requests fail), a good one after it makes the page work again.
    const renew = (token: string) =>
      page.evaluate(`window.dispatchEvent(new CustomEvent('callcast:token', { detail: { token: ${JSON.stringify(token)} } }))`);
    await renew('not-a-token');
    // A join and a leave, seen once the token is good again.
    await publish('carol', 'lime', false);
    await waitFor(() => chromium.errorsOf(page).some((e) => /HTTP 401/.test(e)), 'a request refused with the bad token', 30_000, 200);
    await renew((await mintRecorderToken(svc.apiSecret, CID, recorder.userId)).token);
    await publishers.get('bob')!.close();
    publishers.delete('bob');
    await until(
      'carol green, bob gone',
      (c, list) => near(c.carol, [0, 255, 0]) && c.bob === null && list.map((p) => p.user).join() === 'alice,carol',
    );
    await page.close();
  });
});
