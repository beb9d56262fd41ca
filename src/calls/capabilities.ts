/**
 * Capabilities (Stream's OwnCapability values), the seed grants of the built-in call types and
 * what a user may do in a call.
 */
export const CAPABILITIES = [
  'block-users',
  'change-max-duration',
  'create-call',
  'create-reaction',
  'enable-noise-cancellation',
  'end-call',
  'join-backstage',
  'join-call',
  'join-ended-call',
  'kick-user',
  'mute-users',
  'pin-for-everyone',
  'read-call',
  'remove-call-member',
  'screenshare',
  'send-audio',
  'send-closed-captions-call',
  'send-video',
  'start-broadcast-call',
  'start-closed-captions-call',
  'start-frame-record-call',
  'start-individual-record-call',
  'start-raw-record-call',
  'start-record-call',
  'start-transcription-call',
  'stop-broadcast-call',
  'stop-closed-captions-call',
  'stop-frame-record-call',
  'stop-individual-record-call',
  'stop-raw-record-call',
  'stop-record-call',
  'stop-transcription-call',
  'update-call',
  'update-call-member',
  'update-call-permissions',
  'update-call-settings',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

export function isCapability(v: unknown): v is Capability {
  return typeof v === 'string' && (CAPABILITIES as readonly string[]).includes(v);
}

export const ROLES = ['admin', 'host', 'moderator', 'user', 'call_member', 'guest', 'anonymous'] as const;

/**
 * The role claim of the tokens Callcast gives layout apps (src/render/browser/recorder-token.ts).
 * Such a token grants only what a renderer needs in the calls of its `call_cids`: read the call
 * (and its events) and subscribe to participants over WHEP (`join-call`); it never publishes,
 * starts or stops anything, whatever the call type grants its user's app role. It only narrows
 * rights, so a token an application mints with it is no risk either.
 */
export const RECORDER_ROLE = 'callcast_recorder';
export const RECORDER_CAPABILITIES: readonly Capability[] = ['read-call', 'join-call'];

const ALL: string[] = [...CAPABILITIES];
const MODERATOR = ALL.filter((c) => c !== 'update-call-settings' && c !== 'update-call-permissions');
// `end-call` is not a plain user's (the reference leaves it open): a user could otherwise end
// anyone's call; hosts, moderators and admins end calls.
const DEFAULT_USER = [
  'create-call',
  'read-call',
  'join-call',
  'join-ended-call',
  'send-audio',
  'send-video',
  'screenshare',
  'create-reaction',
  'enable-noise-cancellation',
  'update-call',
];
const VIEWER = ['read-call', 'join-call', 'create-reaction'];

/**
 * Seed grants of the built-in types. Stream does not publish its matrix: these are Callcast's
 * own (reference/stream-api.md section 6). Broadcasting (start/stop-broadcast-call), member
 * management and `end-call` are granted to admin, host and moderator, and to everyone in
 * `development` (whose RTMP broadcasting is off in its settings until an operator enables it).
 */
export function builtinGrants(type: 'default' | 'audio_room' | 'livestream' | 'development'): Record<string, string[]> {
  if (type === 'development') return Object.fromEntries(ROLES.map((r) => [r, [...ALL]]));
  const user = type === 'default' ? DEFAULT_USER : VIEWER;
  const member = type === 'default' ? DEFAULT_USER : [...VIEWER, 'send-audio', 'send-video'];
  return {
    admin: [...ALL],
    host: [...ALL],
    moderator: [...MODERATOR],
    user: [...user],
    call_member: [...new Set(member)],
    guest: type === 'livestream' ? ['read-call', 'join-call'] : ['read-call'],
    anonymous: type === 'livestream' ? ['read-call', 'join-call'] : ['read-call'],
  };
}

/** Grants for a new call type: the `default` seed, with the given roles replaced. */
export function mergeGrants(base: Record<string, string[]>, patch: Record<string, string[]> | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(base)) out[k] = [...v];
  if (patch) for (const [k, v] of Object.entries(patch)) if (k !== '__proto__') out[k] = [...new Set(v)];
  return out;
}

/** Union of the capabilities granted to any of the roles. */
export function capabilitiesFor(grants: Record<string, string[]>, roles: Iterable<string>): string[] {
  const set = new Set<string>();
  for (const r of roles) for (const c of grants[r] ?? []) set.add(c);
  return CAPABILITIES.filter((c) => set.has(c));
}
