/** Users as Stream's UserRequest describes them (upsert = full replace, default role "user"). */
import type { JsonObject, UserRecord } from '../store/records.js';

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
