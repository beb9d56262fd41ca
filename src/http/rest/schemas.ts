/**
 * JSON schemas of request bodies: they check types only (field names in the 400 errors come from
 * them); semantic rules live in src/calls/validation.ts.
 */
const obj = { type: 'object' } as const;
const str = { type: 'string' } as const;
const bool = { type: 'boolean' } as const;
const timestamp = { type: ['string', 'number'] } as const;

const userRequest = {
  type: 'object',
  required: ['id'],
  properties: {
    id: str,
    name: str,
    image: str,
    role: str,
    custom: obj,
    language: str,
    invisible: bool,
    teams: { type: 'array', items: str },
    teams_role: { type: 'object', additionalProperties: str },
    privacy_settings: obj,
  },
} as const;

const memberRequest = {
  type: 'object',
  required: ['user_id'],
  properties: { user_id: { type: 'string', minLength: 1, maxLength: 255 }, role: { type: 'string', maxLength: 64 }, custom: obj },
} as const;

export const getOrCreateCallBody = {
  type: 'object',
  properties: {
    data: {
      type: 'object',
      properties: {
        created_by_id: str,
        created_by: userRequest,
        members: { type: 'array', maxItems: 100, items: memberRequest },
        custom: obj,
        settings_override: obj,
        starts_at: timestamp,
        team: str,
        video: bool,
        channel_cid: str,
      },
    },
    members_limit: { type: 'integer', minimum: 0, maximum: 100 },
    ring: bool,
    notify: bool,
    video: bool,
  },
} as const;

export const updateCallBody = {
  type: 'object',
  properties: { custom: obj, settings_override: obj, starts_at: timestamp },
} as const;

export const updateMembersBody = {
  type: 'object',
  properties: {
    update_members: { type: 'array', maxItems: 100, items: memberRequest },
    remove_members: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 255 } },
  },
} as const;

export const startBroadcastsBody = {
  type: 'object',
  required: ['broadcasts'],
  properties: {
    broadcasts: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'stream_url'],
        properties: { name: str, stream_url: str, stream_key: str, quality: str, layout: obj },
      },
    },
  },
} as const;

/** UpdateRTMPBroadcast (beyond Stream's API): the new layout; `quality` only to be refused when it differs. */
export const updateBroadcastBody = {
  type: 'object',
  properties: { layout: obj, quality: str },
} as const;

export const emptyBody = { type: 'object' } as const;

export const goLiveBody = {
  type: 'object',
  properties: {
    recording_storage_name: str,
    transcription_storage_name: str,
    start_closed_caption: bool,
    start_composite_recording: bool,
    start_hls: bool,
    start_individual_recording: bool,
    start_raw_recording: bool,
    start_recording: bool,
    start_transcription: bool,
  },
} as const;

export const stopLiveBody = {
  type: 'object',
  properties: {
    continue_closed_caption: bool,
    continue_composite_recording: bool,
    continue_hls: bool,
    continue_individual_recording: bool,
    continue_raw_recording: bool,
    continue_recording: bool,
    continue_rtmp_broadcasts: bool,
    continue_transcription: bool,
  },
} as const;

export const queryCallsBody = {
  type: 'object',
  properties: {
    filter_conditions: obj,
    sort: { type: 'array', items: { type: 'object', properties: { field: str, direction: { type: 'integer' } } } },
    limit: { type: 'integer' },
    next: str,
    prev: str,
    watch: bool,
  },
} as const;

const callTypeFields = {
  grants: { type: 'object', additionalProperties: { type: 'array', items: str } },
  settings: obj,
  notification_settings: obj,
  external_storage: str,
} as const;

export const createCallTypeBody = {
  type: 'object',
  required: ['name'],
  properties: { name: str, ...callTypeFields },
} as const;

export const updateCallTypeBody = { type: 'object', properties: callTypeFields } as const;

export const upsertUsersBody = {
  type: 'object',
  required: ['users'],
  properties: { users: { type: 'object', additionalProperties: userRequest } },
} as const;

/** Types of the fields Callcast keeps; any other field is refused by name (calls/app-settings.ts). */
export const updateAppBody = {
  type: 'object',
  properties: { webhook_url: str, webhook_events: { type: 'array', items: str } },
} as const;

export const deleteCallBody = { type: 'object', properties: { hard: bool } } as const;

const sortParams = { type: 'array', items: { type: 'object', properties: { field: str, direction: { type: 'integer' } } } } as const;

export const queryCallMembersBody = {
  type: 'object',
  required: ['type', 'id'],
  properties: { type: str, id: str, filter_conditions: obj, sort: sortParams, limit: { type: 'integer' }, next: str, prev: str },
} as const;

export const updateUsersPartialBody = {
  type: 'object',
  required: ['users'],
  properties: {
    users: {
      type: 'array',
      items: { type: 'object', required: ['id'], properties: { id: str, set: obj, unset: { type: 'array', items: str } } },
    },
  },
} as const;

export const deleteUsersBody = {
  type: 'object',
  required: ['user_ids'],
  properties: {
    user_ids: { type: 'array', items: { type: 'string', minLength: 1 } },
    user: { enum: ['soft', 'pruning', 'hard'] },
    calls: { enum: ['soft', 'hard'] },
    conversations: { enum: ['soft', 'hard'] },
    messages: { enum: ['soft', 'pruning', 'hard'] },
    files: bool,
    new_call_owner_id: str,
    new_channel_owner_id: str,
  },
} as const;

/** POST /video/webhooks/dead/replay (beyond Stream's API): one delivery by id, or all. */
export const replayDeadBody = {
  type: 'object',
  additionalProperties: false,
  properties: { id: { type: 'string', minLength: 1, maxLength: 255 }, all: bool },
} as const;
