/**
 * The watch page (`/watch/{type}/{id}`): plays the call's HLS broadcast with hls.js (or the
 * browser's own HLS where hls.js cannot run). The playlist comes from `#playlist=<url>` (a link
 * as private as the playlist itself) or, with `#token=<user token>` (or a development token), from
 * the call's `egress.hls.playlist_url`, looked up until the broadcast is live.
 */
import Hls from 'hls.js/light';
import type { ErrorData } from 'hls.js';
import { ApiClient, ApiRequestError, messageOf } from '../lib/api.js';
import { loadWebConfig } from '../lib/config.js';
import { tokenFromUrl } from '../lib/credentials.js';
import { byId } from '../lib/dom.js';
import { callFromWatchPath, playlistFromUrl } from '../lib/urls.js';

const statusEl = byId('status');
const errorEl = byId('error');
const player = byId<HTMLVideoElement>('player');
const call = callFromWatchPath(location.pathname);

const LOOKUP_INTERVAL_MS = 2000;

function setStatus(text: string): void {
  statusEl.textContent = text;
  statusEl.dataset.state = text;
}

function showError(text: string): void {
  errorEl.textContent = text;
}

let hls: Hls | null = null;
let playing: string | null = null;

function play(url: string): void {
  if (playing === url) return;
  playing = url;
  hls?.destroy();
  hls = null;
  if (Hls.isSupported()) {
    const h = new Hls({ liveSyncDurationCount: 2, enableWorker: false });
    hls = h;
    h.on(Hls.Events.ERROR, (_e: unknown, data: ErrorData) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        setStatus('Reconnecting to the broadcast…');
        h.startLoad();
      } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        h.recoverMediaError();
      } else {
        showError(`playback failed: ${data.details}`);
        playing = null;
      }
    });
    h.on(Hls.Events.MANIFEST_PARSED, () => {
      setStatus('Live');
      void player.play().catch(() => undefined);
    });
    h.loadSource(url);
    h.attachMedia(player);
  } else if (player.canPlayType('application/vnd.apple.mpegurl')) {
    player.src = url;
    player.addEventListener('loadedmetadata', () => setStatus('Live'), { once: true });
    void player.play().catch(() => undefined);
  } else {
    showError('this browser cannot play HLS');
  }
}

async function lookUp(api: ApiClient, type: string, id: string): Promise<void> {
  for (;;) {
    try {
      const state = await api.getCall(type, id);
      const hlsState = state.call.egress?.hls;
      if (hlsState?.playlist_url && hlsState.status === 'live') {
        play(hlsState.playlist_url);
      } else if (!playing) {
        setStatus(state.call.ended_at ? 'The call has ended.' : 'The broadcast has not started yet.');
      }
      if (state.call.ended_at && !hlsState) {
        setStatus('The call has ended.');
        return;
      }
    } catch (err) {
      showError(err instanceof ApiRequestError ? err.message : String(err));
      if (err instanceof ApiRequestError && (err.status === 401 || err.status === 403 || err.status === 404)) return;
    }
    await new Promise((r) => setTimeout(r, LOOKUP_INTERVAL_MS));
  }
}

async function devToken(): Promise<string | null> {
  try {
    const res = await fetch(`/dev/token?user_id=${encodeURIComponent(`viewer-${Math.random().toString(36).slice(2, 8)}`)}`);
    if (!res.ok) return null;
    const body = (await res.json()) as { token?: unknown };
    return typeof body.token === 'string' ? body.token : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  if (!call) {
    showError('the address names no call: /watch/{type}/{id}');
    return;
  }
  byId('call-cid').textContent = `${call.type}:${call.id}`;
  const direct = playlistFromUrl(location.hash, location.search);
  if (direct) {
    play(direct);
    return;
  }
  const config = await loadWebConfig();
  const token = tokenFromUrl(location.hash, location.search) ?? (config.devTokens ? await devToken() : null);
  if (!token) {
    showError('open the page with #playlist=<playlist URL> or #token=<user token>');
    return;
  }
  await lookUp(new ApiClient({ apiKey: config.apiKey, token }), call.type, call.id);
}

main().catch((err: unknown) => showError(messageOf(err)));
