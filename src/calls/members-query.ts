/**
 * QueryCallMembers (`POST /video/call/members`, node SDK `call.queryMembers()`): Stream's filter
 * language over a call's members, compiled into a predicate, with sort and offset cursors (the
 * same opaque cursors QueryCalls answers). Pure functions; unsupported fields or operators are a
 * 400 (code 4) naming them.
 *
 * Filter fields: `user_id`, `role` ($eq, $ne, $in, $nin), `created_at`, `updated_at` ($eq, $gt,
 * $gte, $lt, $lte), `custom.<path>` ($eq, $ne, $in, $nin, $exists), `custom` as an object
 * (every key equal), and `$and` / `$or` of these. Sort fields: `user_id`, `role`, `created_at`,
 * `updated_at` (at most 2; default `created_at` ascending, then `user_id`).
 */
import type { MemberRecord } from '../store/records.js';
import { badRequest } from '../wire/errors.js';
import { isPlainObject } from './settings.js';
import { decodeCursor, parseLimit } from './query.js';
import { parseTimestamp } from './validation.js';

export type MemberPredicate = (m: MemberRecord) => boolean;

export interface MemberSort {
  field: 'user_id' | 'role' | 'created_at' | 'updated_at';
  direction: 1 | -1;
}

export interface MembersQuery {
  filter: MemberPredicate;
  sort: MemberSort[];
  limit: number;
  offset: number;
}

const STRING_FIELDS = new Set(['user_id', 'role']);
const TIME_FIELDS = new Set(['created_at', 'updated_at']);
type Scalar = string | number | boolean | null;

function operatorOf(key: string, value: unknown): [string, unknown] {
  if (isPlainObject(value)) {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]![0].startsWith('$')) return entries[0]!;
    if (entries.some(([k]) => k.startsWith('$'))) throw badRequest(`filter_conditions.${key} must be a value or {"$op": value}`);
  }
  return ['$eq', value];
}

function scalarList(v: unknown, field: string): Scalar[] {
  if (!Array.isArray(v) || !v.every((x) => x === null || ['string', 'number', 'boolean'].includes(typeof x))) {
    throw badRequest(`filter_conditions.${field} must be a list of strings, numbers or booleans`);
  }
  return v as Scalar[];
}

function dig(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function parseMemberFilter(value: unknown, where = 'filter_conditions'): MemberPredicate {
  if (value === undefined || value === null) return () => true;
  if (!isPlainObject(value)) throw badRequest(`${where} must be an object`);
  const preds = Object.entries(value).map(([k, v]) => condition(k, v));
  return (m) => preds.every((p) => p(m));
}

function condition(key: string, value: unknown): MemberPredicate {
  if (key === '$and' || key === '$or') {
    if (!Array.isArray(value)) throw badRequest(`filter_conditions.${key} must be a list`);
    const items = value.map((v) => parseMemberFilter(v, `filter_conditions.${key}[]`));
    return key === '$and' ? (m) => items.every((p) => p(m)) : (m) => items.some((p) => p(m));
  }
  const [op, operand] = operatorOf(key, value);
  if (STRING_FIELDS.has(key)) {
    const field = key as 'user_id' | 'role';
    if (op === '$eq' || op === '$ne') {
      if (typeof operand !== 'string') throw badRequest(`filter_conditions.${key} must be a string`);
      return op === '$eq' ? (m) => m[field] === operand : (m) => m[field] !== operand;
    }
    if (op === '$in' || op === '$nin') {
      const list = scalarList(operand, key);
      return op === '$in' ? (m) => list.includes(m[field]) : (m) => !list.includes(m[field]);
    }
    throw badRequest(`filter_conditions.${key} supports $eq, $ne, $in and $nin`);
  }
  if (TIME_FIELDS.has(key)) {
    const field = key as 'created_at' | 'updated_at';
    const cmp: Record<string, (a: number, b: number) => boolean> = {
      $eq: (a, b) => a === b,
      $gt: (a, b) => a > b,
      $gte: (a, b) => a >= b,
      $lt: (a, b) => a < b,
      $lte: (a, b) => a <= b,
    };
    const fn = cmp[op];
    if (!fn) throw badRequest(`filter_conditions.${key} supports $eq, $gt, $gte, $lt and $lte`);
    const at = Date.parse(parseTimestamp(operand, `filter_conditions.${key}`));
    return (m) => fn(Date.parse(m[field]), at);
  }
  if (key === 'custom') {
    if (op !== '$eq' || !isPlainObject(operand)) throw badRequest('filter_conditions.custom must be an object of custom fields');
    const wanted = Object.entries(operand);
    return (m) => wanted.every(([k, v]) => sameJson(m.custom[k], v));
  }
  if (key.startsWith('custom.')) {
    const path = key.slice('custom.'.length).split('.');
    if (path.some((p) => p === '')) throw badRequest(`filter_conditions.${key}: invalid custom field path`);
    const read = (m: MemberRecord) => dig(m.custom, path);
    switch (op) {
      case '$eq':
        return (m) => sameJson(read(m), operand);
      case '$ne':
        return (m) => !sameJson(read(m), operand);
      case '$in':
      case '$nin': {
        const list = scalarList(operand, key);
        const has = (m: MemberRecord) => list.some((v) => sameJson(read(m), v));
        return op === '$in' ? has : (m) => !has(m);
      }
      case '$exists':
        if (typeof operand !== 'boolean') throw badRequest(`filter_conditions.${key}.$exists must be a boolean`);
        return (m) => (read(m) !== undefined) === operand;
      default:
        throw badRequest(`filter_conditions.${key} supports $eq, $ne, $in, $nin and $exists`);
    }
  }
  throw badRequest(`filter_conditions.${key} is not a supported filter field (user_id, role, created_at, updated_at, custom)`);
}

export function parseMemberSort(value: unknown): MemberSort[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw badRequest('sort must be a list');
  if (value.length > 2) throw badRequest('sort accepts at most 2 fields');
  return value.map((s, i) => {
    if (!isPlainObject(s) || typeof s.field !== 'string') throw badRequest(`sort[${i}].field is required`);
    if (!['user_id', 'role', 'created_at', 'updated_at'].includes(s.field)) {
      throw badRequest(`sort[${i}].field ${s.field} is not sortable (user_id, role, created_at, updated_at)`);
    }
    const direction = s.direction === undefined ? 1 : s.direction;
    if (direction !== 1 && direction !== -1) throw badRequest(`sort[${i}].direction must be 1 or -1`);
    return { field: s.field as MemberSort['field'], direction };
  });
}

/** The request body of QueryCallMembers (less type and id) as a query. */
export function parseMembersQuery(body: Record<string, unknown>): MembersQuery {
  if (body.next !== undefined && body.prev !== undefined) throw badRequest('next and prev cannot both be given');
  const offset = body.next !== undefined ? decodeCursor(body.next, 'next') : body.prev !== undefined ? decodeCursor(body.prev, 'prev') : 0;
  return { filter: parseMemberFilter(body.filter_conditions), sort: parseMemberSort(body.sort), limit: parseLimit(body.limit), offset };
}

function compare(a: MemberRecord, b: MemberRecord, sort: MemberSort[]): number {
  const keys: MemberSort[] = [...sort, { field: 'created_at', direction: 1 }, { field: 'user_id', direction: 1 }];
  for (const { field, direction } of keys) {
    const x = a[field];
    const y = b[field];
    if (x !== y) return (x < y ? -1 : 1) * direction;
  }
  return 0;
}

/** One page of the members: filtered, sorted, from `offset`; whether more follow. */
export function pageOfMembers(members: readonly MemberRecord[], q: MembersQuery): { members: MemberRecord[]; hasMore: boolean } {
  const matching = members.filter(q.filter).sort((a, b) => compare(a, b, q.sort));
  return { members: matching.slice(q.offset, q.offset + q.limit), hasMore: matching.length > q.offset + q.limit };
}
