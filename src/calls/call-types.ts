/**
 * Call types: the seed of the built-in types, creation and the partial update semantics, and the
 * service the API manages them through.
 */
import type { CallTypeRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { validateCallPathPart } from '../wire/call-cid.js';
import { badRequest, notFound } from '../wire/errors.js';
import type { JsonObject } from '../wire/json.js';
import type { Principal } from '../wire/principal.js';
import type { Access } from './access.js';
import { followCallTypeLayouts, type LayoutFollower } from './broadcast-layout.js';
import { builtinGrants, mergeGrants } from './capabilities.js';
import { builtinSettings, defaultNotificationSettings, deepMerge, mergeSettings, newCallTypeSettings } from './settings.js';

export const BUILTIN_CALL_TYPES = ['default', 'audio_room', 'livestream', 'development'] as const;

/** Creates the built-in call types that do not exist yet. */
export async function seedCallTypes(store: Store, now: string): Promise<void> {
  for (const name of BUILTIN_CALL_TYPES) {
    await store.createCallType({
      name,
      grants: builtinGrants(name),
      settings: builtinSettings(name),
      notification_settings: defaultNotificationSettings(),
      external_storage: null,
      created_at: now,
      updated_at: now,
    });
  }
}

export interface CallTypeChanges {
  grants?: Record<string, string[]>;
  settings?: JsonObject;
  notification_settings?: JsonObject;
  external_storage?: string;
}

/** A new call type: default settings and grants with the request's merged in (per-role replace of grants). */
export function newCallType(name: string, changes: CallTypeChanges, now: string): CallTypeRecord {
  return {
    name,
    grants: mergeGrants(builtinGrants('default'), changes.grants),
    settings: mergeSettings(newCallTypeSettings(), changes.settings ?? {}),
    notification_settings: deepMerge(defaultNotificationSettings(), changes.notification_settings ?? {}),
    external_storage: changes.external_storage ?? null,
    created_at: now,
    updated_at: now,
  };
}

/** A partial update: settings deep-merged, the given roles' grants replaced, the rest kept. */
export function updatedCallType(current: CallTypeRecord, changes: CallTypeChanges, now: string): CallTypeRecord {
  return {
    ...current,
    grants: mergeGrants(current.grants, changes.grants),
    settings: mergeSettings(current.settings, changes.settings ?? {}),
    notification_settings: deepMerge(current.notification_settings, changes.notification_settings ?? {}),
    external_storage: changes.external_storage ?? current.external_storage,
    updated_at: now,
  };
}

/** Call types as the API manages them: server-side only. */
export class CallTypeService {
  constructor(
    private readonly deps: {
      store: Store;
      access: Access;
      now?: () => Date;
      /** Running broadcasts that follow their call type's layout settings (BroadcastState). */
      broadcasts?: { followCallType(callType: CallTypeRecord): Promise<void> };
      /** Running HLS broadcasts and recordings, which follow their layout settings too. */
      outputs?: readonly LayoutFollower[];
    },
  ) {}

  private stamp(): string {
    return (this.deps.now?.() ?? new Date()).toISOString();
  }

  /**
   * Throws 403 unless a server token: the routes call it before parsing a body, so a user token
   * learns nothing about the body's validity.
   */
  assertServer(principal: Principal, what: string): void {
    this.deps.access.requireServer(principal, what);
  }

  async list(principal: Principal): Promise<CallTypeRecord[]> {
    this.deps.access.requireServer(principal, 'listing call types');
    return this.deps.store.listCallTypes();
  }

  async create(principal: Principal, name: string, changes: CallTypeChanges): Promise<CallTypeRecord> {
    this.deps.access.requireServer(principal, 'creating call types');
    validateCallPathPart(name, 'name');
    const record = newCallType(name, changes, this.stamp());
    if (!(await this.deps.store.createCallType(record))) throw badRequest(`call type ${name} already exists`);
    return record;
  }

  async get(principal: Principal, name: string): Promise<CallTypeRecord> {
    this.deps.access.requireServer(principal, 'reading call types');
    return this.deps.access.loadCallType(name);
  }

  async update(principal: Principal, name: string, changes: CallTypeChanges): Promise<CallTypeRecord> {
    this.deps.access.requireServer(principal, 'updating call types');
    const current = await this.deps.access.loadCallType(name);
    const record = updatedCallType(current, changes, this.stamp());
    await this.deps.store.saveCallType(record);
    // Never throws: a broadcast that cannot follow keeps its layout (logged).
    if (changes.settings) {
      await this.deps.broadcasts?.followCallType(record);
      for (const o of this.deps.outputs ?? []) await followCallTypeLayouts(o, record, (cid) => this.deps.store.getCall(cid));
    }
    return record;
  }

  async delete(principal: Principal, name: string): Promise<void> {
    this.deps.access.requireServer(principal, 'deleting call types');
    if (!(await this.deps.store.deleteCallType(name))) throw notFound(`call type ${name} does not exist`);
  }
}
