/**
 * The join page (`/join/{type}/{id}`): camera and microphone preview, a display name, Join and
 * Leave. Joining publishes over WHIP with a user token (from `?token=` or, in development, from
 * `/dev/token`), re-publishes with backoff when the connection drops, subscribes over WHEP to every
 * other participant (the call grid: their video and sound), follows the call's events for who is in
 * it and who speaks, and shows the live composed picture while a broadcast runs. The camera and
 * microphone toggles stop and resume sending without leaving (`replaceTrack`). "Share screen"
 * publishes the browser's screen capture as a second WHIP session (`?track_type=screen_share`),
 * stopped by the button again or when the capture ends; others' shares are shown large above the
 * grid (WHEP with `?track_type=screen_share`, for each participant whose `published_tracks` list
 * `screen_share`).
 */
import { ApiClient, ApiRequestError, callPath, messageOf, withApiKey, type CallState, type RtmpJson } from '../lib/api.js';
import { loadWebConfig } from '../lib/config.js';
import { readTokenClaims, tokenFromUrl } from '../lib/credentials.js';
import { byId, h, render } from '../lib/dom.js';
import { EventConnection } from '../lib/events.js';
import { userIdFromName } from '../lib/format.js';
import { callFromJoinPath } from '../lib/urls.js';
import { applyRosterEvent, isShareOnly, rosterFromParticipants, sharesScreen, type Roster } from '../lib/roster.js';
import { backoffDelay } from '../lib/backoff.js';
import { WhipPublisher } from '../lib/whip.js';
import { CallGrid } from './call-grid.js';
import { ScreenShare } from './screen-share.js';

const statusEl = byId('status');
const errorEl = byId('error');
const selfView = byId<HTMLVideoElement>('self-view');
const nameInput = byId<HTMLInputElement>('display-name');
const cameraOn = byId<HTMLInputElement>('camera-on');
const micOn = byId<HTMLInputElement>('mic-on');
const joinButton = byId<HTMLButtonElement>('join');
const leaveButton = byId<HTMLButtonElement>('leave');
const form = byId<HTMLFormElement>('join-form');
const participantsEl = byId<HTMLUListElement>('participants');
const participantsEmpty = byId('participants-empty');
const broadcastStatus = byId('broadcast-status');
const previewImg = byId<HTMLImageElement>('broadcast-preview');
const gridEl = byId('call-grid');
const gridEmpty = byId('call-grid-empty');
const shareButton = byId<HTMLButtonElement>('share');
const shareStatus = byId('share-status');
const shareStageEl = byId('share-stage');

const call = callFromJoinPath(location.pathname);
const urlToken = tokenFromUrl(location.hash, location.search);
const params = new URLSearchParams(location.search);
nameInput.value = params.get('name') ?? '';

let media: MediaStream | null = null;
let publisher: WhipPublisher | null = null;
let events: EventConnection | null = null;
let roster: Roster = [];
let me: { id: string; name: string } | null = null;
let broadcasts: RtmpJson[] = [];
let previewTimer: ReturnType<typeof setInterval> | null = null;
let previewUrl: string | null = null;
let api: ApiClient | null = null;
let grid: CallGrid | null = null;
let shareStage: CallGrid | null = null;
let share: ScreenShare | null = null;
let shareEndpoint = '';
let whipEndpoint = '';
let whipToken = '';
let reconnectAttempt = 0;
let reconnectTimer: ReturnType<typeof setTimeout> | null = null;

function setStatus(text: string): void {
  statusEl.textContent = text;
}

function showError(text: string): void {
  errorEl.textContent = text;
}

function renderRoster(): void {
  render(
    participantsEl,
    ...roster.map((p) => {
      const badges = [];
      if (p.dominant) badges.push(h('span', { class: 'badge dominant' }, 'dominant speaker'));
      if (p.speaking) badges.push(h('span', { class: 'badge speaking' }, 'speaking'));
      return h(
        'li',
        { class: `participant${p.speaking || p.dominant ? ' is-speaking' : ''}`, 'data-user-id': p.userId },
        h('span', { class: 'name' }, p.name),
        me && p.userId === me.id ? h('span', { class: 'muted' }, ' (you)') : null,
        ...badges,
      );
    }),
  );
  participantsEmpty.hidden = roster.length > 0;
  if (grid && me) grid.update(roster, me.id);
  if (shareStage && me) shareStage.update(roster, me.id);
  gridEmpty.hidden = grid !== null && gridEl.childElementCount > 0;
}

function renderBroadcasts(): void {
  const first = broadcasts[0];
  if (!first) {
    broadcastStatus.textContent = 'No broadcast is running.';
    previewImg.hidden = true;
    stopPreview();
    return;
  }
  broadcastStatus.textContent = `Live broadcast: ${broadcasts.map((b) => b.name).join(', ')}`;
  startPreview(first.name);
}

function startPreview(name: string): void {
  if (previewTimer) clearInterval(previewTimer);
  const tick = async () => {
    if (!api || !call) return;
    try {
      const blob = await api.preview(call.type, call.id, name);
      if (!blob) return;
      const url = URL.createObjectURL(blob);
      previewImg.src = url;
      previewImg.hidden = false;
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = url;
    } catch {
      // The broadcast may have just ended; the next call.updated stops the loop.
    }
  };
  void tick();
  previewTimer = setInterval(() => void tick(), 1000);
}

function stopPreview(): void {
  if (previewTimer) clearInterval(previewTimer);
  previewTimer = null;
}

function applyCallState(state: CallState): void {
  roster = rosterFromParticipants(state.call.session?.participants);
  broadcasts = state.call.egress?.rtmps ?? [];
  renderRoster();
  renderBroadcasts();
}

function onEvent(event: Record<string, unknown>): void {
  if (!call || event.call_cid !== `${call.type}:${call.id}`) return;
  roster = applyRosterEvent(roster, event);
  renderRoster();
  if (event.type === 'call.updated' || event.type === 'call.created') {
    const c = event.call as CallState['call'] | undefined;
    if (c?.egress) {
      broadcasts = c.egress.rtmps ?? [];
      renderBroadcasts();
    }
  }
  if (event.type === 'call.ended') {
    setStatus('The call has ended');
    void leave();
  }
}

async function startCamera(): Promise<void> {
  try {
    media = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 360 } },
      audio: true,
    });
    selfView.srcObject = media;
    applyToggles();
  } catch (err) {
    showError(`The camera or microphone could not be opened: ${messageOf(err)}`);
  }
}

/**
 * The toggles: the preview follows the camera box; while joined, a kind that is off is not sent at
 * all (the sender's track is replaced by none), so the others and the broadcast show the
 * placeholder, and it is sent again when turned back on.
 */
function applyToggles(): void {
  for (const t of media?.getVideoTracks() ?? []) t.enabled = cameraOn.checked;
  for (const t of media?.getAudioTracks() ?? []) t.enabled = micOn.checked;
  void applySending(publisher);
}

async function applySending(p: WhipPublisher | null): Promise<void> {
  if (!p || !media) return;
  await p.replaceTrack('video', cameraOn.checked ? (media.getVideoTracks()[0] ?? null) : null);
  await p.replaceTrack('audio', micOn.checked ? (media.getAudioTracks()[0] ?? null) : null);
}

/** Publishes the camera and microphone; a connection that fails is published again with backoff. */
async function publish(): Promise<void> {
  if (!media) return;
  const p = new WhipPublisher(whipEndpoint, whipToken);
  publisher = p;
  await p.publish(media, (s) => {
    if (publisher !== p) return;
    if (s === 'connected') {
      reconnectAttempt = 0;
      setStatus(`Joined as ${me?.name ?? ''}`);
    } else if (s === 'failed' || s === 'disconnected') {
      setStatus('Connection lost, reconnecting…');
      if (s === 'failed') scheduleRepublish(p);
    }
  });
  await applySending(p);
}

function scheduleRepublish(failed: WhipPublisher): void {
  if (publisher !== failed || reconnectTimer) return;
  void failed.stop();
  const delay = backoffDelay(reconnectAttempt++);
  reconnectTimer = setTimeout(() => {
    reconnectTimer = null;
    if (publisher !== failed) return;
    publish().catch(() => {
      if (publisher) scheduleRepublish(publisher);
    });
  }, delay);
}

async function tokenFor(name: string, devTokens: boolean): Promise<string> {
  if (urlToken) return urlToken;
  if (!devTokens) throw new Error('This page needs a token: open it with ?token=... in its address.');
  const userId = params.get('user_id') ?? userIdFromName(name, Math.random().toString(36).slice(2, 8));
  const res = await fetch(`/dev/token?user_id=${encodeURIComponent(userId)}`);
  const body = (await res.json().catch(() => ({}))) as { token?: string; message?: string };
  if (!res.ok || !body.token) throw new Error(body.message ?? `no development token (HTTP ${res.status})`);
  return body.token;
}

async function join(): Promise<void> {
  showError('');
  if (!call) return showError('This address does not name a call: use /join/{type}/{id}.');
  const name = nameInput.value.trim();
  if (name === '') {
    nameInput.focus();
    return showError('Enter a display name to join.');
  }
  if (!media) await startCamera();
  if (!media) return;
  joinButton.disabled = true;
  nameInput.disabled = true;
  setStatus('Joining…');
  try {
    const config = await loadWebConfig();
    const token = await tokenFor(name, config.devTokens);
    const claims = readTokenClaims(token);
    if (!claims?.userId) throw new Error('The token names no user (user_id claim).');
    me = { id: claims.userId, name };
    api = new ApiClient({ apiKey: config.apiKey, token });
    let state: CallState;
    try {
      state = await api.getOrCreateCall(call.type, call.id);
    } catch (err) {
      // Users who may join but not create calls (e.g. livestream viewers) read the existing call.
      if (!(err instanceof ApiRequestError && err.status === 403)) throw err;
      state = await api.getCall(call.type, call.id);
    }
    const c = call;
    applyCallState(state);
    let connectedOnce = false;
    const client = api;
    events = new EventConnection({
      apiKey: config.apiKey,
      token,
      user: me,
      onEvent,
      // After a reconnect of the event connection, events may have been missed: read the call again.
      onStatus: (status) => {
        if (status !== 'connected') return;
        if (connectedOnce) void client.getCall(c.type, c.id).then(applyCallState, () => undefined);
        connectedOnce = true;
      },
    });
    // The event connection records the display name (user_details) before the publish names us.
    await events.start();
    const whepOf = (sessionId: string, query = '') =>
      `${location.origin}${withApiKey(`${callPath(c.type, c.id)}/participants/${encodeURIComponent(sessionId)}/whep${query}`, config.apiKey)}`;
    grid = new CallGrid(gridEl, {
      token,
      endpointFor: (sessionId) => whepOf(sessionId),
      // A user sharing without a camera session is listed by the share alone: shown on the stage only.
      include: (entry) => !isShareOnly(entry),
    });
    shareStage = new CallGrid(shareStageEl, {
      token,
      endpointFor: (sessionId) => whepOf(sessionId, '?track_type=screen_share'),
      include: sharesScreen,
      describe: (name) => `Screen shared by ${name}`,
      tileClass: 'share-tile',
    });
    renderRoster();
    whipEndpoint = `${location.origin}${withApiKey(`${callPath(call.type, call.id)}/whip`, config.apiKey)}`;
    whipToken = token;
    shareEndpoint = `${location.origin}${withApiKey(`${callPath(call.type, call.id)}/whip?track_type=screen_share`, config.apiKey)}`;
    await publish();
    setStatus(`Joined as ${name}`);
    leaveButton.disabled = false;
    shareButton.disabled = typeof navigator.mediaDevices?.getDisplayMedia !== 'function';
  } catch (err) {
    showError(messageOf(err));
    await leave(false);
  }
}

async function leave(announce = true): Promise<void> {
  const p = publisher;
  publisher = null;
  if (reconnectTimer) clearTimeout(reconnectTimer);
  reconnectTimer = null;
  await stopSharing();
  shareButton.disabled = true;
  grid?.close();
  grid = null;
  shareStage?.close();
  shareStage = null;
  events?.close();
  events = null;
  stopPreview();
  await p?.stop();
  roster = [];
  broadcasts = [];
  renderRoster();
  renderBroadcasts();
  leaveButton.disabled = true;
  joinButton.disabled = false;
  nameInput.disabled = false;
  if (announce) setStatus('Left the call');
}

function showShareState(text: string | null): void {
  const on = share !== null;
  shareButton.textContent = on ? 'Stop sharing' : 'Share screen';
  shareButton.setAttribute('aria-pressed', String(on));
  shareStatus.textContent = text ?? '';
  shareStatus.hidden = !text;
}

/** Shares a screen (the browser asks which); the share is a WHIP session of its own. */
async function startSharing(): Promise<void> {
  if (share || !shareEndpoint) return;
  showError('');
  const s = new ScreenShare({
    endpoint: shareEndpoint,
    token: whipToken,
    onEnded: (why) => {
      if (share !== s) return;
      share = null;
      showShareState(why === 'capture-ended' ? 'Screen sharing ended.' : 'Screen sharing stopped: the connection was lost.');
    },
  });
  share = s;
  shareButton.disabled = true;
  showShareState('Starting to share…');
  try {
    await s.start();
    if (share === s) showShareState('You are sharing your screen.');
  } catch (err) {
    if (share === s) share = null;
    const declined = err instanceof DOMException && (err.name === 'NotAllowedError' || err.name === 'AbortError');
    showShareState(null);
    if (!declined) showError(`The screen could not be shared: ${messageOf(err)}`);
  } finally {
    shareButton.disabled = publisher === null;
  }
}

async function stopSharing(): Promise<void> {
  const s = share;
  share = null;
  if (!s) return;
  showShareState(null);
  await s.stop();
}

if (call) byId('call-cid').textContent = `${call.type}:${call.id}`;
else showError('This address does not name a call: use /join/{type}/{id}.');

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void join();
});
leaveButton.addEventListener('click', () => void leave());
shareButton.addEventListener('click', () => void (share ? stopSharing() : startSharing()));
cameraOn.addEventListener('change', applyToggles);
micOn.addEventListener('change', applyToggles);
window.addEventListener('pagehide', () => {
  void share?.stop();
  void publisher?.stop();
});
renderRoster();
void startCamera();
