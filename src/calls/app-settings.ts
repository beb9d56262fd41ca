/**
 * The app as Stream's GetApplicationResponse describes it (`app: AppResponseFields`), and the
 * UpdateApp fields Callcast keeps. Callcast is one app with a webhook target; every other field
 * of the model is answered with the value that means "no such feature" (off, empty, zero), and an
 * UpdateApp that sets one of them is refused rather than silently dropped. Pure functions.
 */
import type { AppSettingsRecord, CallTypeRecord } from '../store/records.js';
import { badRequest } from '../wire/errors.js';
import type { JsonObject } from '../wire/json.js';

/** The UpdateAppRequest fields Callcast stores. */
export const KEPT_APP_FIELDS = ['webhook_url', 'webhook_events'] as const;

export interface AppPatch {
  webhook_url?: string;
  webhook_events?: string[];
}

/** Checks an UpdateAppRequest body: 400 naming every field Callcast does not keep; the patch otherwise. */
export function parseAppPatch(body: Record<string, unknown>): AppPatch {
  const refused = Object.keys(body).filter((k) => !(KEPT_APP_FIELDS as readonly string[]).includes(k));
  if (refused.length > 0) {
    throw badRequest(`${refused.sort().join(', ')} cannot be set on this server (it keeps only ${KEPT_APP_FIELDS.join(' and ')})`);
  }
  const patch: AppPatch = {};
  const { webhook_url, webhook_events } = body;
  if (webhook_url !== undefined) {
    if (typeof webhook_url !== 'string') throw badRequest('webhook_url must be a string');
    if (webhook_url !== '' && !/^https?:\/\/[^/\s]+/i.test(webhook_url)) throw badRequest('webhook_url must be an http:// or https:// URL');
    patch.webhook_url = webhook_url;
  }
  if (webhook_events !== undefined) {
    if (!Array.isArray(webhook_events) || !webhook_events.every((e) => typeof e === 'string'))
      throw badRequest('webhook_events must be a list of strings');
    patch.webhook_events = webhook_events;
  }
  return patch;
}

/** Stream's CallType (the app's view of a call type): numeric ids in listing order. */
function appCallType(t: CallTypeRecord, index: number): JsonObject {
  return {
    app: 1,
    id: index + 1,
    name: t.name,
    recording_external_storage: t.external_storage ?? '',
    created_at: t.created_at,
    updated_at: t.updated_at,
    settings: t.settings,
    notification_settings: t.notification_settings,
  };
}

/** AppResponseFields for the stored settings and call types. */
export function appResponse(settings: AppSettingsRecord, callTypes: CallTypeRecord[]): JsonObject {
  return {
    id: 1,
    name: 'callcast',
    organization: '',
    placement: '',
    permission_version: 'v2',
    webhook_url: settings.webhook_url,
    webhook_events: settings.webhook_events,
    event_hooks: [],
    call_types: Object.fromEntries(callTypes.map((t, i) => [t.name, appCallType(t, i)])),
    // Features Callcast does not have: off, empty or zero.
    allow_multi_user_devices: false,
    async_url_enrich_enabled: false,
    auto_translation_enabled: false,
    campaign_enabled: false,
    cdn_expiration_seconds: 0,
    custom_action_handler_url: '',
    disable_auth_checks: false,
    disable_permissions_checks: false,
    enforce_unique_usernames: 'no',
    feed_audit_logs_enabled: false,
    guest_user_creation_disabled: true,
    image_moderation_enabled: false,
    max_aggregated_activities_length: 0,
    member_custom_on_messages_enabled: false,
    moderation_audio_call_moderation_enabled: false,
    moderation_enabled: false,
    moderation_llm_configurability_enabled: false,
    moderation_multitenant_blocklist_enabled: false,
    moderation_video_call_moderation_enabled: false,
    moderation_webhook_url: '',
    multi_tenant_enabled: false,
    reminders_interval: 0,
    sns_key: '',
    sns_secret: '',
    sns_topic_arn: '',
    sqs_key: '',
    sqs_secret: '',
    sqs_url: '',
    suspended: false,
    suspended_explanation: '',
    use_hook_v2: false,
    user_response_time_enabled: false,
    user_search_disallowed_roles: [],
    channel_configs: {},
    file_upload_config: { size_limit: 0 },
    image_upload_config: { size_limit: 0 },
    grants: {},
    policies: {},
    push_notifications: {
      offline_only: false,
      version: 'v2',
      apn: { development: false, enabled: false },
      firebase: { enabled: false },
      huawei: { enabled: false },
      xiaomi: { enabled: false },
    },
  };
}
