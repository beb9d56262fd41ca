/** Users as Stream's UserRequest describes them (upsert = full replace, default role "user"). */
import type { EventBus } from '../events/contract.js';
import type { UserQuery, UserRecord } from '../store/records.js';
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
  const base: UserRecord = existing ?? {
    id, role: 'user', name: null, image: null, custom: {}, language: '', teams: [], invisible: false, created_at: now, updated_at: now,
  };
  const next: UserRecord = { ...base, updated_at: now };
  if (typeof details.name === 'string') next.name = details.name;
  if (typeof details.image === 'string') next.image = details.image;
  if (typeof details.language === 'string') next.language = details.language;
  if (typeof details.invisible === 'boolean') next.invisible = details.invisible;
  if (details.custom && typeof details.custom === 'object' && !Array.isArray(details.custom)) next.custom = details.custom as JsonObject;
  return next;
}

/** How many users one UpdateUsers request may carry (as Stream). */
export const MAX_USERS_PER_UPDATE = 100;

/**
 * Users: the upsert (a server token updates anyone; a user token only itself, and never its role),
 * the query, and the user a WebSocket client connects as.
 */
export class UserService {
  constructor(
    private readonly deps: { store: Store; bus: EventBus; now?: () => Date },
  ) {}

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
    for (const r of records) this.deps.bus.publish({ type: 'user.updated', user: fullUserResponse(r) });
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
