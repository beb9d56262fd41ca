/**
 * The operator console (`/console`): sign in with a token (or, with development tokens on, as the
 * development operator), list and create calls, and on a call's page hand out its join link, see
 * who is in it, its effective broadcasting settings and broadcasts (status, bitrate, bytes sent,
 * uptime, reconnects, last error, a preview refreshed about once a second), start a broadcast
 * (recent destinations remembered, stream keys never) and stop one or all. Live from the
 * WebSocket events and the broadcast stats, without reloading. The operations page
 * (operations.ts) shows dead webhook deliveries and the cluster's nodes.
 */
import { LOCAL_INGEST_COMMAND } from '../../../src/cli/next-steps.js';
import { LAYOUT_NAMES, QUALITIES } from '../../../src/layout/settings.js';
import {
  ApiClient,
  ApiRequestError,
  callPath,
  messageOf,
  withApiKey,
  type BroadcastStartInput,
  type CallState,
  type LayoutJson,
  type MemberJson,
} from '../lib/api.js';
import { applyBroadcastEvent, applyStats, dropInactive, markStopping, syncWithEgress, type BroadcastView } from '../lib/broadcasts.js';
import { loadWebConfig, type WebConfig } from '../lib/config.js';
import { readTokenClaims, tokenFromUrl } from '../lib/credentials.js';
import {
  forgetDestination,
  maskedHint,
  parseRecentDestinations,
  RECENT_DESTINATIONS_KEY,
  rememberDestination,
  serializeRecentDestinations,
  type RecentDestination,
} from '../lib/destinations.js';
import { byId, h, render, tableWithHeads } from '../lib/dom.js';
import { EventConnection } from '../lib/events.js';
import { layoutChangeRequest, withLayoutName } from '../lib/layout-change.js';
import { formatBitrate, formatBytes, formatUptime } from '../lib/format.js';
import { applyRosterEvent, rosterFromParticipants, type Roster } from '../lib/roster.js';
import { CALL_PART_PATTERN, guestLink, joinLink, suggestCallId } from '../lib/links.js';
import { callFromConsolePath, isConsoleOperationsPath } from '../lib/urls.js';
import { LivePreview } from './live-preview.js';
import { operationsView } from './operations.js';

/** The built-in call types, offered when the token may not list the app's call types. */
const BUILTIN_CALL_TYPES = ['default', 'livestream', 'audio_room', 'development'];
/** Who the console signs in as with development tokens (`callcast serve` creates this admin). */
const DEV_OPERATOR = 'operator';

const TOKEN_KEY = 'callcast.console.token';
const app = byId('app');
const connectionEl = byId('connection');
const signOutButton = byId<HTMLButtonElement>('sign-out');

let config: WebConfig | null = null;
let api: ApiClient | null = null;
let token: string | null = null;
let events: EventConnection | null = null;
/** Cleans up the current view's timers. */
let leaveView: (() => void) | null = null;
/** Events are handed to the current view. */
let viewEvents: ((event: Record<string, unknown>) => void) | null = null;

// ---- routing ----------------------------------------------------------------------------------

function navigate(path: string): void {
  history.pushState(null, '', path);
  route();
}

function route(): void {
  leaveView?.();
  leaveView = null;
  viewEvents = null;
  if (!api || !token) {
    showSignIn();
    return;
  }
  const call = callFromConsolePath(location.pathname);
  if (call) showCall(call.type, call.id);
  else if (isConsoleOperationsPath(location.pathname)) showOperations();
  else showCalls();
}

document.addEventListener('click', (ev) => {
  const a = (ev.target as Element | null)?.closest?.('a[data-route]');
  if (!a || ev.defaultPrevented || (ev as MouseEvent).button !== 0 || (ev as MouseEvent).ctrlKey || (ev as MouseEvent).metaKey) return;
  ev.preventDefault();
  navigate(a.getAttribute('href') ?? '/console');
});
window.addEventListener('popstate', route);

// ---- sign in ----------------------------------------------------------------------------------

function signIn(newToken: string): void {
  if (!config) return;
  token = newToken;
  sessionStorage.setItem(TOKEN_KEY, newToken);
  api = new ApiClient({ apiKey: config.apiKey, token: newToken });
  signOutButton.hidden = false;
  const claims = readTokenClaims(newToken);
  events?.close();
  events = null;
  if (claims?.userId) {
    events = new EventConnection({
      apiKey: config.apiKey,
      token: newToken,
      user: { id: claims.userId },
      onEvent: (e) => viewEvents?.(e),
      onStatus: (s, detail) => {
        connectionEl.textContent =
          s === 'connected' ? 'Live updates on' : s === 'connecting' ? 'Connecting…' : `Live updates off${detail ? `: ${detail}` : ''}`;
      },
    });
    events.start().catch(() => undefined);
  } else {
    connectionEl.textContent = 'Live updates off (server token): refreshing periodically';
  }
}

/** A token the API refuses (expired, wrong app): back to the sign-in form with the API's words. */
function signInAgain(err: unknown): boolean {
  if (!(err instanceof ApiRequestError && err.status === 401)) return false;
  signOut(false);
  showSignIn(err.message);
  return true;
}

function signOut(go = true): void {
  sessionStorage.removeItem(TOKEN_KEY);
  token = null;
  api = null;
  events?.close();
  events = null;
  connectionEl.textContent = '';
  signOutButton.hidden = true;
  leaveView?.();
  leaveView = null;
  viewEvents = null;
  if (go) navigate('/console');
}

/** Development: a token for the development operator from `/dev/token`. */
async function devOperatorToken(): Promise<string> {
  const res = await fetch(`/dev/token?user_id=${encodeURIComponent(DEV_OPERATOR)}`, { headers: { Accept: 'application/json' } });
  const body = (await res.json().catch(() => ({}))) as { token?: unknown; message?: unknown };
  if (!res.ok || typeof body.token !== 'string') {
    throw new Error(typeof body.message === 'string' ? body.message : `no development token (HTTP ${res.status})`);
  }
  return body.token;
}

function showSignIn(message = ''): void {
  const input = h('textarea', { id: 'token', name: 'token', rows: 3, required: true, autocomplete: 'off', spellcheck: 'false' });
  const error = h('p', { class: 'error', role: 'alert' }, message);
  const form = h(
    'form',
    { class: 'panel sign-in', 'aria-labelledby': 'sign-in-heading' },
    h('h1', { id: 'sign-in-heading' }, 'Sign in'),
    h('p', { class: 'muted' }, 'Paste an access token (a user token of an operator, or the development link printed at start).'),
    h('div', { class: 'field' }, h('label', { for: 'token' }, 'Access token'), input),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit' }, 'Sign in'),
      config?.devTokens
        ? h('button', { type: 'button', class: 'secondary', id: 'dev-sign-in' }, 'Continue as the development operator')
        : null,
    ),
    error,
  );
  form.querySelector('#dev-sign-in')?.addEventListener('click', () => {
    error.textContent = '';
    devOperatorToken().then(
      (t) => {
        signIn(t);
        route();
      },
      (err: unknown) => void (error.textContent = messageOf(err)),
    );
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    if (!readTokenClaims(value)) {
      error.textContent = 'That is not a token (a JWT has three parts separated by dots).';
      return;
    }
    signIn(value);
    route();
  });
  render(app, form);
  document.title = 'Sign in · Callcast';
}

// ---- calls list -------------------------------------------------------------------------------

/** The call's title (`custom.title`, as Stream's apps keep it), or "". */
function titleOf(call: CallState['call']): string {
  const custom = (call as { custom?: { title?: unknown } }).custom;
  return typeof custom?.title === 'string' ? custom.title : '';
}

/** The app's call types when the token may list them (server tokens), else the built-in ones. */
async function callTypeNames(): Promise<string[]> {
  // Listing call types is server-side only: a user token would only be refused.
  if (!api || !token || readTokenClaims(token)?.server !== true) return BUILTIN_CALL_TYPES;
  try {
    const { call_types } = await api.request<{ call_types?: Record<string, unknown> }>('GET', '/video/calltypes');
    const names = Object.keys(call_types ?? {});
    return names.length > 0
      ? [...names].sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : a.localeCompare(b)))
      : BUILTIN_CALL_TYPES;
  } catch {
    return BUILTIN_CALL_TYPES;
  }
}

/** "Create a call": type, id (a suggestion filled in), optional title; opens the call's page. */
function newCallForm(): HTMLElement {
  const typeSelect = h('select', { id: 'new-type', name: 'type' }, ...BUILTIN_CALL_TYPES.map((t) => h('option', { value: t }, t)));
  const idInput = h('input', {
    id: 'new-id',
    name: 'id',
    required: true,
    maxlength: 64,
    value: suggestCallId(),
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const titleInput = h('input', { id: 'new-title', name: 'title', maxlength: 200, placeholder: 'Weekly all-hands', autocomplete: 'off' });
  const error = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Create call');
  void callTypeNames().then((names) => {
    const current = typeSelect.value;
    render(typeSelect, ...names.map((t) => h('option', { value: t }, t)));
    typeSelect.value = names.includes(current) ? current : (names[0] ?? 'default');
  });
  const form = h(
    'form',
    { class: 'panel create-call', 'aria-labelledby': 'create-heading', novalidate: true },
    h('h2', { id: 'create-heading' }, 'Create a call'),
    h(
      'div',
      { class: 'inline-form' },
      h('div', { class: 'field' }, h('label', { for: 'new-type' }, 'Call type'), typeSelect),
      h('div', { class: 'field' }, h('label', { for: 'new-id' }, 'Call ID'), idInput),
      h('div', { class: 'field grow' }, h('label', { for: 'new-title' }, 'Title (optional)'), titleInput),
      h('div', { class: 'field' }, submit),
    ),
    h('p', { class: 'muted' }, 'Letters, digits, "_" and "-". An existing call with this type and ID opens as it is.'),
    error,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!api) return;
    error.textContent = '';
    const type = typeSelect.value;
    const id = idInput.value.trim();
    if (!CALL_PART_PATTERN.test(id)) {
      idInput.focus();
      error.textContent = 'A call ID is 1 to 64 letters, digits, "_" or "-".';
      return;
    }
    const title = titleInput.value.trim();
    const data: Record<string, unknown> = {};
    if (title !== '') data.custom = { title };
    submit.disabled = true;
    api
      .request<CallState & { created?: boolean }>('POST', `/video/call/${encodeURIComponent(type)}/${encodeURIComponent(id)}`, { data })
      .then(
        () => navigate(`/console/calls/${encodeURIComponent(type)}/${encodeURIComponent(id)}`),
        (err: unknown) => {
          if (!signInAgain(err)) error.textContent = messageOf(err);
        },
      )
      .finally(() => {
        submit.disabled = false;
      });
  });
  return form;
}

function showCalls(): void {
  document.title = 'Calls · Callcast';
  const tbody = h('tbody');
  const error = h('p', { class: 'error', role: 'alert' });
  const empty = h('p', { class: 'muted' }, 'Loading…');
  const refresh = h('button', { type: 'button', class: 'secondary' }, 'Refresh');
  const createForm = newCallForm();
  render(
    app,
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'calls-heading' },
      h('div', { class: 'section-head' }, h('h1', { id: 'calls-heading' }, 'Calls'), refresh),
      h(
        'div',
        { class: 'table-wrap' },
        tableWithHeads({ 'aria-labelledby': 'calls-heading' }, ['Call', 'Title', 'Created', 'In the call', 'Broadcasts'], tbody),
      ),
      empty,
      error,
    ),
    createForm,
  );

  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  const load = async () => {
    if (!api) return;
    try {
      const { calls } = await api.queryCalls(50);
      if (stopped) return;
      error.textContent = '';
      render(
        tbody,
        ...calls.map((c) => {
          const href = `/console/calls/${encodeURIComponent(c.call.type)}/${encodeURIComponent(c.call.id)}`;
          const n = c.call.egress?.rtmps?.length ?? 0;
          const people = c.call.session?.participants?.length ?? 0;
          return h(
            'tr',
            {},
            h('td', {}, h('a', { href, 'data-route': true }, c.call.cid)),
            h('td', {}, titleOf(c.call)),
            h('td', {}, c.call.created_at ? new Date(c.call.created_at).toLocaleString() : ''),
            h('td', {}, people === 0 ? 'nobody' : people === 1 ? '1 person' : `${people} people`),
            h('td', {}, n === 0 ? 'none' : `${n} live`),
          );
        }),
      );
      empty.textContent = calls.length === 0 ? 'No calls yet: create one below.' : '';
    } catch (err) {
      if (stopped || signInAgain(err)) return;
      error.textContent = messageOf(err);
    }
  };
  refresh.addEventListener('click', () => void load());
  void load();
  viewEvents = (e) => {
    if (typeof e.type === 'string' && e.type.startsWith('call.') && !timer) {
      timer = setTimeout(() => {
        timer = null;
        void load();
      }, 300);
    }
  };
  const poll = setInterval(() => void load(), 10_000);
  leaveView = () => {
    stopped = true;
    clearInterval(poll);
    if (timer) clearTimeout(timer);
  };
}

// ---- operations -------------------------------------------------------------------------------

function showOperations(): void {
  if (!api) return;
  document.title = 'Operations · Callcast';
  const view = operationsView(api, signInAgain);
  render(app, view.root);
  leaveView = view.leave;
}

// ---- a call -----------------------------------------------------------------------------------

interface BroadcastCard {
  root: HTMLElement;
  status: HTMLElement;
  bitrate: HTMLElement;
  bytes: HTMLElement;
  uptime: HTMLElement;
  reconnects: HTMLElement;
  lastError: HTMLElement;
  preview: HTMLImageElement;
  previewNote: HTMLElement;
  stop: HTMLButtonElement;
  dismiss: HTMLButtonElement;
  /** The running broadcast's layout; changing it asks the server to change the layout live. */
  layout: HTMLSelectElement;
  previewUrl: string | null;
  /** the live WebRTC preview; the image above is its fallback */
  live: LivePreview;
}

function settingsRows(settings: Record<string, unknown> | undefined): Array<[string, string]> {
  const b = (settings ?? {}) as {
    enabled?: boolean;
    rtmp?: { enabled?: boolean; quality?: string; layout?: { name?: string; options?: Record<string, unknown> } };
    hls?: { enabled?: boolean };
  };
  const yes = (v: unknown) => (v === true ? 'yes' : v === false ? 'no' : 'not set');
  const options = b.rtmp?.layout?.options ? Object.keys(b.rtmp.layout.options).length : 0;
  return [
    ['Broadcasting enabled', yes(b.enabled)],
    ['RTMP enabled', yes(b.rtmp?.enabled)],
    ['Quality', b.rtmp?.quality ?? 'not set'],
    ['Layout', b.rtmp?.layout?.name ?? 'not set'],
    ['Layout options', options === 0 ? 'none' : `${options} set`],
    ['HLS enabled', yes(b.hls?.enabled)],
  ];
}

function definitionList(rows: Array<[string, string]>, label: string): HTMLElement {
  const dl = h('dl', { class: 'facts', 'aria-label': label });
  for (const [k, v] of rows) dl.append(h('dt', {}, k), h('dd', {}, v));
  return dl;
}

/** Copies text to the clipboard; says so in `status` for a moment. */
async function copyText(text: string, status: HTMLElement): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = 'Copied to the clipboard.';
  } catch {
    status.textContent = 'The browser refused the clipboard: select the link and copy it.';
  }
  setTimeout(() => {
    status.textContent = '';
  }, 4000);
}

/** A read-only link field with Copy and Open buttons. */
function linkField(id: string, label: string, link: string, describe: string): { root: HTMLElement; set(link: string): void } {
  const input = h('input', { id, type: 'url', readonly: true, value: link, spellcheck: 'false', 'aria-describedby': `${id}-note` });
  const copy = h('button', { type: 'button', class: 'secondary', 'aria-label': `Copy ${label.toLowerCase()}` }, 'Copy');
  const open = h('a', { href: link, target: '_blank', rel: 'noopener', class: 'button-link' }, 'Open');
  const copied = h('span', { class: 'muted note', role: 'status' });
  copy.addEventListener('click', () => void copyText(input.value, copied));
  input.addEventListener('focus', () => input.select());
  const root = h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    h('div', { class: 'link-row' }, input, copy, open),
    copied,
    h('p', { class: 'muted note', id: `${id}-note` }, describe),
  );
  return {
    root,
    set(next: string) {
      input.value = next;
      open.setAttribute('href', next);
    },
  };
}

/** "Invite people": the join link, and with development tokens a link for a named guest. */
function invitePanel(type: string, id: string): HTMLElement {
  const origin = location.origin;
  const join = linkField(
    'join-link',
    'Join link',
    joinLink(origin, type, id),
    config?.devTokens
      ? 'Anyone with this link joins with the camera and microphone (development tokens are on: no sign-in needed).'
      : 'Participants open it with a user token from your application: add ?token=... (callcast token --user ID --call-cids TYPE:ID).',
  );
  const children: HTMLElement[] = [h('h2', { id: 'invite-heading' }, 'Invite people'), join.root];
  if (config?.devTokens) {
    const nameInput = h('input', { id: 'guest-name', maxlength: 64, value: 'Guest', autocomplete: 'off' });
    const guest = linkField(
      'guest-link',
      'Guest link',
      guestLink(origin, type, id, 'Guest'),
      'Signs the guest in under this name when they press Join (development tokens).',
    );
    nameInput.addEventListener('input', () => guest.set(guestLink(origin, type, id, nameInput.value)));
    children.push(h('div', { class: 'field' }, h('label', { for: 'guest-name' }, 'Guest name'), nameInput), guest.root);
  }
  return h('section', { class: 'panel', 'aria-labelledby': 'invite-heading' }, ...children);
}

/** How to try a broadcast without a platform account: a local ingest in one line. */
function localIngestHint(fill: () => void): HTMLElement {
  const use = h('button', { type: 'button', class: 'secondary' }, 'Fill in the local ingest');
  use.addEventListener('click', fill);
  return h(
    'details',
    { class: 'hint' },
    h('summary', {}, 'No platform account? Broadcast to a local ingest'),
    h('p', {}, 'Run this on the server machine; it records what arrives to out.flv (play it with ffplay or VLC):'),
    h('pre', {}, h('code', {}, LOCAL_INGEST_COMMAND)),
    h('p', {}, 'Then start a broadcast to rtmp://127.0.0.1:1935/live with the stream key test.'),
    use,
  );
}

function loadRecentDestinations(): RecentDestination[] {
  try {
    return parseRecentDestinations(localStorage.getItem(RECENT_DESTINATIONS_KEY));
  } catch {
    return [];
  }
}

function saveRecentDestinations(list: readonly RecentDestination[]): void {
  try {
    localStorage.setItem(RECENT_DESTINATIONS_KEY, serializeRecentDestinations(list));
  } catch {
    // Storage refused (private mode, quota): the console works without the list.
  }
}

function showCall(type: string, id: string): void {
  const cid = `${type}:${id}`;
  document.title = `${cid} · Callcast`;
  let roster: Roster = [];
  let members: MemberJson[] = [];
  let broadcasts = new Map<string, BroadcastView>();
  let defaults = { quality: '', layout: '' };
  const cards = new Map<string, BroadcastCard>();
  /** Each running broadcast's layout, as its details last answered. */
  const layouts = new Map<string, LayoutJson>();
  let stopped = false;

  const loadError = h('p', { class: 'error', role: 'alert' });
  const callTitle = h('p', { class: 'call-title', hidden: true });
  const participantsList = h('ul', { class: 'participants', 'aria-labelledby': 'participants-heading' });
  const participantsEmpty = h('p', { class: 'muted' }, 'Nobody is in the call.');
  const membersNote = h('p', { class: 'muted' });
  const settingsBox = h('div');
  const broadcastList = h('div', { class: 'broadcasts' });
  const broadcastsEmpty = h('p', { class: 'muted' }, 'No broadcast is running.');
  const stopAll = h('button', { type: 'button', class: 'danger', disabled: true }, 'Stop all broadcasts');
  const actionError = h('p', { class: 'error', role: 'alert' });

  // Start form.
  const qualitySelect = h('select', { id: 'bc-quality', name: 'quality' });
  const layoutSelect = h('select', { id: 'bc-layout', name: 'layout' });
  const keyInput = h('input', { id: 'bc-key', name: 'stream_key', type: 'password', autocomplete: 'off', spellcheck: 'false' });
  const showKey = h('input', { id: 'bc-show-key', type: 'checkbox' });
  showKey.addEventListener('change', () => {
    keyInput.type = showKey.checked ? 'text' : 'password';
  });
  const keyNote = h('p', { class: 'muted note', id: 'bc-key-note' }, 'Kept only for this start: the console never stores stream keys.');
  keyInput.setAttribute('aria-describedby', 'bc-key-note');
  const startError = h('p', { class: 'error', role: 'alert' });
  const startButton = h('button', { type: 'submit' }, 'Start broadcast');
  let recent = loadRecentDestinations();
  const recentBox = h('div', { class: 'recent' });
  const input = (fieldId: string) => byId<HTMLInputElement>(fieldId);
  function useDestination(d: RecentDestination): void {
    input('bc-name').value = d.name;
    input('bc-url').value = d.streamUrl;
    qualitySelect.value = d.quality;
    layoutSelect.value = d.layout;
    keyInput.value = '';
    keyNote.textContent = d.keyHint
      ? `Enter the stream key again (the last one ended in ${d.keyHint}): the console never stores stream keys.`
      : 'This destination was started without a stream key last time.';
    keyInput.focus();
  }
  function renderRecent(): void {
    if (recent.length === 0) {
      render(recentBox);
      return;
    }
    render(
      recentBox,
      h('h3', { id: 'recent-heading' }, 'Recent destinations'),
      h(
        'ul',
        { class: 'recent-list', 'aria-labelledby': 'recent-heading' },
        ...recent.map((d) => {
          const use = h('button', { type: 'button', class: 'secondary', 'aria-label': `Use destination ${d.name}` }, 'Use');
          const forget = h('button', { type: 'button', class: 'link', 'aria-label': `Forget destination ${d.name}` }, 'Forget');
          use.addEventListener('click', () => useDestination(d));
          forget.addEventListener('click', () => {
            recent = forgetDestination(recent, d);
            saveRecentDestinations(recent);
            renderRecent();
          });
          return h(
            'li',
            { class: 'recent-item' },
            h(
              'span',
              { class: 'recent-text' },
              h('strong', {}, d.name),
              ' ',
              h('span', { class: 'muted' }, `${d.streamUrl}${d.keyHint ? ` · key ${maskedHint(d.keyHint)}` : ''}`),
            ),
            use,
            forget,
          );
        }),
      ),
    );
  }
  const startForm = h(
    'form',
    { class: 'start-form', 'aria-labelledby': 'start-heading', novalidate: true },
    h('h2', { id: 'start-heading' }, 'Start a broadcast'),
    recentBox,
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'bc-name' }, 'Broadcast name'),
      h('input', { id: 'bc-name', name: 'name', required: true, maxlength: 255, placeholder: 'youtube' }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'bc-url' }, 'Stream URL'),
      h('input', { id: 'bc-url', name: 'stream_url', type: 'url', required: true, placeholder: 'rtmps://a.rtmps.youtube.com/live2' }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'bc-key' }, 'Stream key'),
      keyInput,
      keyNote,
      h('label', { class: 'check' }, showKey, ' Show stream key'),
    ),
    h('div', { class: 'field' }, h('label', { for: 'bc-quality' }, 'Quality'), qualitySelect),
    h('div', { class: 'field' }, h('label', { for: 'bc-layout' }, 'Layout'), layoutSelect),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'bc-title' }, 'Title text'),
      h('input', { id: 'bc-title', name: 'title', maxlength: 200 }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'bc-bg' }, 'Background colour'),
      h('input', { id: 'bc-bg', name: 'background', placeholder: '#000000', maxlength: 32 }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { class: 'check' }, h('input', { id: 'bc-labels', type: 'checkbox', checked: true }), ' Show participant names'),
    ),
    h('div', { class: 'actions' }, startButton),
    startError,
    localIngestHint(() => {
      input('bc-name').value = 'local';
      input('bc-url').value = 'rtmp://127.0.0.1:1935/live';
      keyInput.value = 'test';
    }),
  );

  function fillSelects(): void {
    render(
      qualitySelect,
      h('option', { value: '' }, `Call default${defaults.quality ? ` (${defaults.quality})` : ''}`),
      ...QUALITIES.map((q) => h('option', { value: q }, q)),
    );
    render(
      layoutSelect,
      h('option', { value: '' }, `Call default${defaults.layout ? ` (${defaults.layout})` : ''}`),
      ...LAYOUT_NAMES.filter((l) => l !== 'custom').map((l) => h('option', { value: l }, l)),
    );
  }
  fillSelects();
  renderRecent();

  render(
    app,
    h('nav', { 'aria-label': 'Breadcrumb' }, h('a', { href: '/console', 'data-route': true }, '← All calls')),
    h('h1', {}, `Call ${cid}`),
    callTitle,
    loadError,
    h(
      'div',
      { class: 'columns' },
      h(
        'div',
        { class: 'column' },
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'broadcasts-heading' },
          h('div', { class: 'section-head' }, h('h2', { id: 'broadcasts-heading' }, 'Broadcasts'), stopAll),
          broadcastList,
          broadcastsEmpty,
          actionError,
        ),
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'participants-heading' },
          h('h2', { id: 'participants-heading' }, 'Participants'),
          participantsList,
          participantsEmpty,
          membersNote,
        ),
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'settings-heading' },
          h('h2', { id: 'settings-heading' }, 'Broadcasting settings'),
          settingsBox,
        ),
      ),
      h('div', { class: 'column' }, invitePanel(type, id), h('section', { class: 'panel' }, startForm)),
    ),
  );

  function renderRoster(): void {
    render(
      participantsList,
      ...roster.map((p) =>
        h(
          'li',
          { class: `participant${p.speaking || p.dominant ? ' is-speaking' : ''}` },
          h('span', { class: 'name' }, p.name),
          p.dominant ? h('span', { class: 'badge dominant' }, 'dominant speaker') : null,
          p.speaking ? h('span', { class: 'badge speaking' }, 'speaking') : null,
        ),
      ),
    );
    participantsEmpty.hidden = roster.length > 0;
    membersNote.textContent = members.length > 0 ? `Members: ${members.map((m) => m.user?.name ?? m.user_id).join(', ')}` : '';
  }

  function cardFor(v: BroadcastView): BroadcastCard {
    const existing = cards.get(v.name);
    if (existing) return existing;
    const field = (key: string) => h('dd', { 'data-field': key });
    const status = field('status');
    const bitrate = field('bitrate');
    const bytes = field('bytes');
    const uptime = field('uptime');
    const reconnects = field('reconnects');
    const lastError = field('last-error');
    const preview = h('img', { class: 'preview', alt: `Preview of broadcast ${v.name}`, hidden: true });
    const previewNote = h('p', { class: 'muted' }, 'Waiting for the first picture…');
    const live = new LivePreview({
      name: v.name,
      endpoint: `${location.origin}${withApiKey(`${callPath(type, id)}/rtmp_broadcasts/${encodeURIComponent(v.name)}/whep`, config?.apiKey ?? '')}`,
      token: token ?? '',
      onChange: (playing) => {
        // While the live video plays, the picture-a-second image steps aside.
        preview.hidden = playing || !preview.getAttribute('src');
        previewNote.hidden = playing;
      },
    });
    const stop = h('button', { type: 'button', class: 'danger', 'aria-label': `Stop broadcast ${v.name}` }, 'Stop');
    stop.addEventListener('click', () => void stopOne(v.name));
    const dismiss = h(
      'button',
      { type: 'button', class: 'secondary', 'aria-label': `Dismiss broadcast ${v.name}`, hidden: true },
      'Dismiss',
    );
    dismiss.addEventListener('click', () => {
      broadcasts = dropInactive(broadcasts, v.name);
      renderBroadcasts();
    });
    const layout = h(
      'select',
      { 'aria-label': `Layout of broadcast ${v.name}`, 'data-field': 'layout' },
      ...LAYOUT_NAMES.filter((l) => l !== 'custom').map((l) => h('option', { value: l }, l)),
    );
    layout.value = '';
    layout.addEventListener('change', () => void changeLayout(v.name, layout));
    const dl = h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Layout'),
      h('dd', {}, layout),
      h('dt', {}, 'Status'),
      status,
      h('dt', {}, 'Bitrate'),
      bitrate,
      h('dt', {}, 'Sent'),
      bytes,
      h('dt', {}, 'Uptime'),
      uptime,
      h('dt', {}, 'Reconnects'),
      reconnects,
      h('dt', {}, 'Last error'),
      lastError,
    );
    const root = h(
      'article',
      { class: 'broadcast', 'aria-label': `Broadcast ${v.name}` },
      h('div', { class: 'section-head' }, h('h3', {}, v.name), stop, dismiss),
      h('p', { class: 'muted url' }, v.streamUrl),
      h(
        'div',
        { class: 'broadcast-body' },
        dl,
        h('figure', {}, live.video, preview, previewNote, h('div', { class: 'live-controls' }, live.button, live.note)),
      ),
    );
    const card: BroadcastCard = {
      root,
      status,
      bitrate,
      bytes,
      uptime,
      reconnects,
      lastError,
      preview,
      previewNote,
      stop,
      dismiss,
      layout,
      previewUrl: null,
      live,
    };
    cards.set(v.name, card);
    return card;
  }

  function renderBroadcasts(): void {
    const now = Date.now();
    const nodes: HTMLElement[] = [];
    for (const v of broadcasts.values()) {
      const c = cardFor(v);
      c.root.dataset.status = v.status;
      c.status.textContent = v.status;
      c.status.className = `state state-${v.status}`;
      c.bitrate.textContent = v.active ? formatBitrate(v.bitrate) : '—';
      c.bytes.textContent = formatBytes(v.bytesSent);
      c.bytes.dataset.value = String(v.bytesSent);
      c.uptime.textContent = v.active ? formatUptime(v.liveSince, now) || '—' : '—';
      c.reconnects.textContent = String(v.reconnects);
      c.lastError.textContent = v.lastError ?? 'none';
      c.stop.hidden = !v.active;
      c.dismiss.hidden = v.active;
      c.layout.disabled = !v.active;
      const known = layouts.get(v.name);
      if (known && document.activeElement !== c.layout) c.layout.value = known.name;
      if (!v.active) {
        c.live.ended();
        c.previewNote.hidden = false;
        c.preview.hidden = true;
        c.previewNote.textContent = v.status === 'failed' ? 'The broadcast failed.' : 'The broadcast was stopped.';
      }
      nodes.push(c.root);
    }
    for (const [name, c] of cards) {
      if (!broadcasts.has(name)) {
        if (c.previewUrl) URL.revokeObjectURL(c.previewUrl);
        c.live.stop();
        cards.delete(name);
      }
    }
    render(broadcastList, ...nodes);
    broadcastsEmpty.hidden = nodes.length > 0;
    stopAll.disabled = ![...broadcasts.values()].some((v) => v.active);
  }

  function applyState(state: CallState): void {
    const b = (state.call.settings?.broadcasting ?? {}) as { rtmp?: { quality?: string; layout?: { name?: string } } };
    const newDefaults = { quality: b.rtmp?.quality ?? '', layout: b.rtmp?.layout?.name ?? '' };
    if (newDefaults.quality !== defaults.quality || newDefaults.layout !== defaults.layout) {
      defaults = newDefaults;
      const q = qualitySelect.value;
      const l = layoutSelect.value;
      fillSelects();
      qualitySelect.value = q;
      layoutSelect.value = l;
    }
    const title = titleOf(state.call);
    callTitle.textContent = title;
    callTitle.hidden = title === '';
    document.title = `${title ? `${title} · ` : ''}${cid} · Callcast`;
    render(settingsBox, definitionList(settingsRows(state.call.settings?.broadcasting), 'Effective broadcasting settings'));
    if (state.call.session !== undefined) roster = rosterFromParticipants(state.call.session?.participants);
    if (state.members) members = state.members;
    broadcasts = syncWithEgress(broadcasts, state.call.egress?.rtmps);
    renderRoster();
    renderBroadcasts();
  }

  async function load(): Promise<void> {
    if (!api) return;
    try {
      const state = await api.getCall(type, id);
      if (stopped) return;
      loadError.textContent = '';
      applyState(state);
    } catch (err) {
      if (stopped || signInAgain(err)) return;
      loadError.textContent = messageOf(err);
    }
  }

  async function pollStats(): Promise<void> {
    if (!api) return;
    const active = [...broadcasts.values()].filter((v) => v.active);
    await Promise.all(
      active.map(async (v) => {
        try {
          const { broadcast } = await api!.broadcastDetails(type, id, v.name);
          if (!stopped && broadcast.layout) layouts.set(v.name, broadcast.layout);
          if (!stopped && broadcast.stats) broadcasts = applyStats(broadcasts, broadcast.stats);
        } catch (err) {
          // A broadcast that just ended answers 404; the next call state removes it.
          if (!(err instanceof ApiRequestError && err.status === 404)) actionError.textContent = messageOf(err);
        }
      }),
    );
    if (!stopped) renderBroadcasts();
  }

  /** Changes a running broadcast's layout (its options stay); the picture follows within a keyframe. */
  async function changeLayout(name: string, select: HTMLSelectElement): Promise<void> {
    if (!api) return;
    const r = layoutChangeRequest(type, id, name, withLayoutName(layouts.get(name), select.value));
    select.disabled = true;
    try {
      const { broadcast } = await api.request<{ broadcast: { layout?: LayoutJson } }>(r.method, r.path, r.body);
      if (broadcast.layout) layouts.set(name, broadcast.layout);
      actionError.textContent = '';
    } catch (err) {
      actionError.textContent = messageOf(err);
      const known = layouts.get(name);
      if (known) select.value = known.name;
    } finally {
      select.disabled = false;
    }
  }

  /** Preview requests in flight, by broadcast: a stop aborts them before the broadcast goes away. */
  const previewRequests = new Map<string, AbortController>();
  function abortPreviews(name?: string): void {
    for (const [n, request] of previewRequests) if (name === undefined || n === name) request.abort();
  }

  async function pollPreviews(): Promise<void> {
    if (!api) return;
    for (const v of broadcasts.values()) {
      if (!v.active) continue;
      const card = cards.get(v.name);
      if (!card) continue;
      const request = new AbortController();
      previewRequests.set(v.name, request);
      try {
        const blob = await api.preview(type, id, v.name, request.signal);
        if (stopped || !blob || request.signal.aborted) continue;
        const url = URL.createObjectURL(blob);
        card.preview.src = url;
        card.preview.hidden = card.live.playing;
        card.previewNote.textContent = `Updated ${new Date().toLocaleTimeString()}`;
        if (card.previewUrl) URL.revokeObjectURL(card.previewUrl);
        card.previewUrl = url;
      } catch (err) {
        if (request.signal.aborted) continue;
        if (!(err instanceof ApiRequestError && err.status === 404)) card.previewNote.textContent = messageOf(err);
      } finally {
        if (previewRequests.get(v.name) === request) previewRequests.delete(v.name);
      }
    }
  }

  async function stopOne(name: string): Promise<void> {
    if (!api) return;
    actionError.textContent = '';
    broadcasts = markStopping(broadcasts, name);
    abortPreviews(name);
    renderBroadcasts();
    try {
      await api.stopBroadcast(type, id, name);
      await load();
    } catch (err) {
      broadcasts = dropInactive(broadcasts, name);
      void load();
      actionError.textContent = messageOf(err);
    }
  }

  stopAll.addEventListener('click', async () => {
    if (!api) return;
    actionError.textContent = '';
    broadcasts = markStopping(broadcasts);
    abortPreviews();
    renderBroadcasts();
    try {
      await api.stopAllBroadcasts(type, id);
      await load();
    } catch (err) {
      broadcasts = dropInactive(broadcasts);
      void load();
      actionError.textContent = messageOf(err);
    }
  });

  startForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!api) return;
    startError.textContent = '';
    const value = (id: string) => byId<HTMLInputElement>(id).value.trim();
    const name = value('bc-name');
    const url = value('bc-url');
    if (name === '') return void (startError.textContent = 'Enter a broadcast name.');
    if (url === '') return void (startError.textContent = 'Enter the stream URL (rtmp:// or rtmps://).');
    const input: BroadcastStartInput = { name, stream_url: url };
    if (keyInput.value !== '') input.stream_key = keyInput.value;
    if (qualitySelect.value) input.quality = qualitySelect.value;
    const options: Record<string, unknown> = {};
    if (value('bc-title')) options['title.text'] = value('bc-title');
    if (value('bc-bg')) options['layout.background_color'] = value('bc-bg');
    if (!byId<HTMLInputElement>('bc-labels').checked) options['participant_label.display'] = false;
    if (layoutSelect.value || Object.keys(options).length > 0) {
      input.layout = { name: layoutSelect.value || defaults.layout || 'spotlight' };
      if (Object.keys(options).length > 0) input.layout.options = options;
    }
    startButton.disabled = true;
    try {
      await api.startBroadcast(type, id, input);
      broadcasts = dropInactive(broadcasts, name);
      recent = rememberDestination(
        recent,
        { name, streamUrl: url, streamKey: keyInput.value, quality: qualitySelect.value, layout: layoutSelect.value },
        Date.now(),
      );
      saveRecentDestinations(recent);
      renderRecent();
      keyInput.value = '';
      keyNote.textContent = 'Kept only for this start: the console never stores stream keys.';
      await load();
    } catch (err) {
      startError.textContent = messageOf(err);
    } finally {
      startButton.disabled = false;
    }
  });

  viewEvents = (e) => {
    if (e.call_cid !== cid) return;
    roster = applyRosterEvent(roster, e);
    broadcasts = applyBroadcastEvent(broadcasts, e);
    for (const [n, request] of previewRequests) if (!broadcasts.get(n)?.active) request.abort();
    if (e.type === 'call.updated' || e.type === 'call.created') {
      const call = e.call as CallState['call'] | undefined;
      if (call) applyState({ call });
      return;
    }
    renderRoster();
    renderBroadcasts();
  };

  void load();
  const statsTimer = setInterval(() => void pollStats(), 1000);
  const previewTimer = setInterval(() => void pollPreviews(), 1000);
  const stateTimer = setInterval(() => void load(), events ? 15_000 : 3_000);
  leaveView = () => {
    stopped = true;
    clearInterval(statsTimer);
    clearInterval(previewTimer);
    clearInterval(stateTimer);
    for (const c of cards.values()) {
      if (c.previewUrl) URL.revokeObjectURL(c.previewUrl);
      c.live.stop();
    }
  };
}

// ---- start ------------------------------------------------------------------------------------

signOutButton.addEventListener('click', () => signOut());

async function main(): Promise<void> {
  try {
    config = await loadWebConfig();
  } catch (err) {
    render(app, h('p', { class: 'error', role: 'alert' }, messageOf(err)));
    return;
  }
  const fromUrl = tokenFromUrl(location.hash, '');
  if (fromUrl) history.replaceState(null, '', location.pathname + location.search);
  let saved = fromUrl ?? sessionStorage.getItem(TOKEN_KEY);
  if (!saved && config.devTokens) {
    // Development (CALLCAST_DEV_TOKENS=1): sign in as the development operator by itself, so the
    // server's address leads straight to a working console.
    try {
      saved = await devOperatorToken();
    } catch (err) {
      render(app);
      showSignIn(`Development sign-in failed: ${messageOf(err)}`);
      return;
    }
  }
  if (saved) signIn(saved);
  route();
}

void main();
