/** Users as Stream's UserRequest describes them (upsert = full replace, default role "user"). */
import type { EventBus } from '../events/contract.js';
import { newUserRecord, type UserQuery, type UserRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { badRequest, notAllowed } from '../wire/errors.js';
import type { JsonObject } from '../wire/json.js';
import type { Principal } from '../wire/principal.js';
import { fullUserResponse } from './responses.js';

export interface UserRequest {
  id: string;
  name?: string;
  image?: string;
  role?: string;
  custom?: JsonObject;
  language?: string;
  invisible?: boolean;
  teams?: string[];
  teams_role?: Record<string, string>;
  privacy_settings?: JsonObject;
}

export function userFromRequest(u: UserRequest, now: string, existing: UserRecord | null): UserRecord {
  const rec: UserRecord = {
    id: u.id,
    role: u.role ?? 'user',
    name: u.name ?? null,
    image: u.image ?? null,
    custom: u.custom ?? {},
    language: u.language ?? '',
    teams: u.teams ?? [],
    invisible: u.invisible ?? false,
    created_at: existing?.created_at ?? now,
    updated_at: now,
  };
  if (u.teams_role) rec.teams_role = u.teams_role;
  if (u.privacy_settings) rec.privacy_settings = u.privacy_settings;
  return rec;
}

/** Extra fields a connecting client sends in `user_details` (name, image, custom...), merged over the stored user. */
export function userFromDetails(id: string, details: JsonObject, now: string, existing: UserRecord | null): UserRecord {
  const base: UserRecord = existing ?? newUserRecord(id, now);
  const next: UserRecord = { ...base, updated_at: now };
  if (typeof details.name === 'string') next.name = details.name;
  if (typeof details.image === 'string') next.image = details.image;
  if (typeof details.language === 'string') next.language = details.language;
  if (typeof details.invisible === 'boolean') next.invisible = details.invisible;
  if (details.custom && typeof details.custom === 'object' && !Array.isArray(details.custom)) next.custom = details.custom as JsonObject;
  return next;
}

/** One entry of UpdateUsersPartialRequest. */
export interface UserPartialUpdate {
  id: string;
  set?: Record<string, unknown>;
  unset?: string[];
}

const UNSETTABLE = ['name', 'image', 'language', 'teams', 'teams_role', 'privacy_settings', 'invisible', 'custom'];

function customKey(field: string, where: string): string | null {
  if (!field.startsWith('custom.')) return null;
  const key = field.slice('custom.'.length);
  if (key === '' || key === '__proto__') throw badRequest(`${where}: ${field} is not a valid custom field`);
  return key;
}

function wrongType(where: string, field: string, what: string): never {
  throw badRequest(`${where}.set.${field} must be ${what}`);
}

/** The user after a partial update (pure; 400 naming the field that cannot be set or unset). */
export function applyPartial(base: UserRecord, u: UserPartialUpdate, where: string, now: string): UserRecord {
  const next: UserRecord = { ...base, custom: { ...base.custom }, updated_at: now };
  for (const [field, value] of Object.entries(u.set ?? {})) {
    const key = customKey(field, `${where}.set`);
    if (key !== null) {
      next.custom[key] = value as JsonObject[string];
      continue;
    }
    switch (field) {
      case 'id':
        if (value !== u.id) throw badRequest(`${where}.set.id cannot change a user's id`);
        break;
      case 'name':
      case 'image':
      case 'role':
      case 'language':
        if (typeof value !== 'string') wrongType(where, field, 'a string');
        if (field === 'role') next.role = value;
        else if (field === 'language') next.language = value;
        else next[field] = value;
        break;
      case 'invisible':
        if (typeof value !== 'boolean') wrongType(where, field, 'a boolean');
        next.invisible = value;
        break;
      case 'teams':
        if (!Array.isArray(value) || !value.every((t) => typeof t === 'string')) wrongType(where, field, 'a list of strings');
        next.teams = value as string[];
        break;
      case 'teams_role':
        if (!isObject(value) || !Object.values(value).every((t) => typeof t === 'string')) wrongType(where, field, 'an object of strings');
        next.teams_role = value as Record<string, string>;
        break;
      case 'privacy_settings':
      case 'custom':
        if (!isObject(value)) wrongType(where, field, 'an object');
        if (field === 'custom') next.custom = { ...(value as JsonObject) };
        else next.privacy_settings = value as JsonObject;
        break;
      default:
        throw badRequest(`${where}.set.${field} is not a user field (set custom fields as custom.${field})`);
    }
  }
  for (const field of u.unset ?? []) {
    if (typeof field !== 'string') throw badRequest(`${where}.unset must be a list of field names`);
    const key = customKey(field, `${where}.unset`);
    if (key !== null) {
      delete next.custom[key];
      continue;
    }
    if (!UNSETTABLE.includes(field)) throw badRequest(`${where}.unset: ${field} cannot be unset`);
    if (field === 'name' || field === 'image') next[field] = null;
    else if (field === 'language') next.language = '';
    else if (field === 'teams') next.teams = [];
    else if (field === 'invisible') next.invisible = false;
    else if (field === 'custom') next.custom = {};
    else delete next[field as 'teams_role' | 'privacy_settings'];
  }
  return next;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** How many users one UpdateUsers request may carry (as Stream). */
export const MAX_USERS_PER_UPDATE = 100;

/**
 * Users: the upsert (a server token updates anyone; a user token only itself, and never its role),
 * the query, and the user a WebSocket client connects as.
 */
export class UserService {
  constructor(private readonly deps: { store: Store; bus: EventBus; now?: () => Date }) {}

  private stamp(): string {
    return (this.deps.now?.() ?? new Date()).toISOString();
  }

  /** UpdateUsers: full replace of each user, `user.updated` for each; the stored users in order. */
  async upsert(principal: Principal, users: Record<string, UserRequest>): Promise<UserRecord[]> {
    const entries = Object.entries(users);
    if (entries.length > MAX_USERS_PER_UPDATE) throw badRequest(`users accepts at most ${MAX_USERS_PER_UPDATE} users per request`);
    for (const [key, u] of entries) {
      if (u.id !== key) throw badRequest(`users.${key}.id must equal its key`);
      if (u.id === '' || u.id.length > 255) throw badRequest(`users.${key}.id must be 1 to 255 characters`);
    }
    if (principal.kind === 'user' && entries.some(([, u]) => u.id !== principal.userId || (u.role !== undefined && u.role !== 'user'))) {
      throw notAllowed('users can only update themselves, and not their role');
    }
    const now = this.stamp();
    const existing = await this.deps.store.getUsers(entries.map(([k]) => k));
    const records = entries.map(([, u]) => userFromRequest(u, now, existing.get(u.id) ?? null));
    await this.deps.store.upsertUsers(records);
    for (const r of records) this.publishUpdated(r);
    return records;
  }

  /** `user.updated` as Stream sends it: the user and the event's (empty) `custom`. */
  private publishUpdated(r: UserRecord): void {
    this.deps.bus.publish({ type: 'user.updated', user: fullUserResponse(r), custom: {} });
  }

  /**
   * UpdateUsersPartial: `set` and `unset` over each stored user (created when missing), then
   * `user.updated` for each. `set` takes the UserRequest fields and `custom.<key>`; `unset` takes
   * name, image, language, teams, teams_role, privacy_settings, invisible, custom and
   * `custom.<key>`. Other fields are a 400 naming them.
   */
  async partialUpdate(principal: Principal, updates: UserPartialUpdate[]): Promise<UserRecord[]> {
    if (updates.length > MAX_USERS_PER_UPDATE) throw badRequest(`users accepts at most ${MAX_USERS_PER_UPDATE} users per request`);
    const ids = updates.map((u) => u.id);
    if (new Set(ids).size !== ids.length) throw badRequest('users lists a user id more than once');
    for (const [i, u] of updates.entries()) {
      if (typeof u.id !== 'string' || u.id === '' || u.id.length > 255) throw badRequest(`users[${i}].id must be 1 to 255 characters`);
    }
    if (principal.kind === 'user') {
      const touchesRole = updates.some((u) => u.set?.role !== undefined || u.unset?.includes('role'));
      if (updates.some((u) => u.id !== principal.userId) || touchesRole)
        throw notAllowed('users can only update themselves, and not their role');
    }
    const now = this.stamp();
    const existing = await this.deps.store.getUsers(ids);
    const records = updates.map((u, i) =>
      applyPartial(existing.get(u.id) ?? userFromRequest({ id: u.id }, now, null), u, `users[${i}]`, now),
    );
    await this.deps.store.upsertUsers(records);
    for (const r of records) this.publishUpdated(r);
    return records;
  }

  async query(query: UserQuery): Promise<UserRecord[]> {
    return this.deps.store.queryUsers(query);
  }

  /** The user as stored, for a created_by in a request (merged over the stored one). */
  async fromRequest(u: UserRequest): Promise<UserRecord> {
    return userFromRequest(u, this.stamp(), await this.deps.store.getUser(u.id));
  }

  /** The stored role of a user (default "user"). */
  async roleOf(userId: string): Promise<string> {
    return (await this.deps.store.getUser(userId))?.role ?? 'user';
  }

  /** Upserts a connecting client's user from its `user_details`; the OwnUserResponse-like `me`. */
  async connect(userId: string, details: JsonObject): Promise<JsonObject> {
    const existing = await this.deps.store.getUser(userId);
    const record = userFromDetails(userId, details, this.stamp(), existing);
    await this.deps.store.upsertUsers([record]);
    return fullUserResponse(record);
  }
}
