/**
 * Stream's query language for QueryCalls and QueryUsers, compiled into the store's filters.
 * Pure functions; unsupported fields or operators are a 400 (code 4) naming them.
 */
import { badRequest } from '../wire/errors.js';
import type { CallColumn, CallFilter, CallSort, CompareOp, JsonObject, UserQuery } from '../store/records.js';
import { isPlainObject } from './settings.js';
import { parseTimestamp } from './validation.js';

const CALL_COLUMNS: Record<string, CallColumn> = {
  id: 'id',
  cid: 'cid',
  type: 'type',
  created_by_user_id: 'created_by_id',
  created_at: 'created_at',
  updated_at: 'updated_at',
  ended_at: 'ended_at',
  starts_at: 'starts_at',
  team: 'team',
};
const TIME_COLUMNS = new Set<CallColumn>(['created_at', 'updated_at', 'ended_at', 'starts_at']);
const OPS = new Set<CompareOp>(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin']);

export const MAX_QUERY_LIMIT = 100;
export const DEFAULT_QUERY_LIMIT = 25;

/** How deep `$and` / `$or` may nest, and how many conditions and list values a filter may hold. */
export const MAX_FILTER_DEPTH = 6;
export const MAX_FILTER_CONDITIONS = 100;
export const MAX_FILTER_LIST_VALUES = 100;

interface FilterBudget {
  conditions: number;
}

export function parseCallFilter(value: unknown, depth = 0, budget: FilterBudget = { conditions: 0 }): CallFilter | null {
  if (value === undefined || value === null) return null;
  if (!isPlainObject(value)) throw badRequest('filter_conditions must be an object');
  if (depth > MAX_FILTER_DEPTH) throw badRequest(`filter_conditions nests $and/$or deeper than ${MAX_FILTER_DEPTH} levels`);
  const entries = Object.entries(value);
  budget.conditions += entries.length;
  if (budget.conditions > MAX_FILTER_CONDITIONS) throw badRequest(`filter_conditions holds more than ${MAX_FILTER_CONDITIONS} conditions`);
  const items = entries.map(([k, v]) => parseCondition(k, v, depth, budget));
  return items.length === 0 ? null : items.length === 1 ? items[0]! : { kind: 'and', items };
}

function parseCondition(key: string, value: unknown, depth: number, budget: FilterBudget): CallFilter {
  if (key === '$and' || key === '$or') {
    if (!Array.isArray(value)) throw badRequest(`filter_conditions.${key} must be a list`);
    budget.conditions += value.length;
    if (budget.conditions > MAX_FILTER_CONDITIONS)
      throw badRequest(`filter_conditions holds more than ${MAX_FILTER_CONDITIONS} conditions`);
    return {
      kind: key === '$and' ? 'and' : 'or',
      items: value.map((v) => parseCallFilter(v, depth + 1, budget) ?? { kind: 'and', items: [] }),
    };
  }
  if (Array.isArray(value) && value.length > MAX_FILTER_LIST_VALUES)
    throw badRequest(`filter_conditions.${key} lists more than ${MAX_FILTER_LIST_VALUES} values`);
  if (isPlainObject(value)) {
    for (const v of Object.values(value)) {
      if (Array.isArray(v) && v.length > MAX_FILTER_LIST_VALUES)
        throw badRequest(`filter_conditions.${key} lists more than ${MAX_FILTER_LIST_VALUES} values`);
    }
  }
  const [op, operand] = operatorOf(key, value);
  if (key === 'members') {
    if (op !== '$in') throw badRequest('filter_conditions.members supports $in only');
    return { kind: 'members', userIds: stringList(operand, 'members') };
  }
  if (key === 'ongoing' || key === 'backstage') {
    if (op !== '$eq' || typeof operand !== 'boolean') throw badRequest(`filter_conditions.${key} must be a boolean ($eq)`);
    return { kind: key, value: operand };
  }
  if (key.startsWith('custom.')) {
    const path = key.slice('custom.'.length).split('.');
    if (path.some((p) => p === '' || !/^[\w-]+$/.test(p))) throw badRequest(`filter_conditions.${key}: invalid custom field path`);
    if (op !== '$eq' && op !== '$ne' && op !== '$in') throw badRequest(`filter_conditions.${key} supports $eq, $ne and $in`);
    const values = op === '$in' ? (Array.isArray(operand) ? operand : null) : [operand];
    if (!values || !values.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) {
      throw badRequest(`filter_conditions.${key} values must be strings, numbers or booleans`);
    }
    return { kind: 'custom', path, op, value: values as Array<string | number | boolean> };
  }
  const column = CALL_COLUMNS[key];
  if (!column) throw badRequest(`filter_conditions.${key} is not a supported filter field`);
  if (op === '$exists') {
    if (typeof operand !== 'boolean') throw badRequest(`filter_conditions.${key}.$exists must be a boolean`);
    return { kind: 'exists', column, exists: operand };
  }
  if (!OPS.has(op as CompareOp)) throw badRequest(`filter_conditions.${key}: unsupported operator ${op}`);
  const norm = (v: unknown): string => {
    if (TIME_COLUMNS.has(column)) return parseTimestamp(v, `filter_conditions.${key}`);
    if (typeof v !== 'string') throw badRequest(`filter_conditions.${key} values must be strings`);
    return v;
  };
  if (op === '$in' || op === '$nin') {
    if (!Array.isArray(operand)) throw badRequest(`filter_conditions.${key}.${op} must be a list`);
    return { kind: 'compare', column, op: op as CompareOp, value: operand.map(norm) };
  }
  if (operand === null && (op === '$eq' || op === '$ne')) return { kind: 'exists', column, exists: op === '$ne' };
  return { kind: 'compare', column, op: op as CompareOp, value: norm(operand) };
}

function operatorOf(key: string, value: unknown): [string, unknown] {
  if (isPlainObject(value)) {
    const entries = Object.entries(value);
    if (entries.length !== 1 || !entries[0]![0].startsWith('$'))
      throw badRequest(`filter_conditions.${key} must be a value or {"$op": value}`);
    return entries[0]!;
  }
  return ['$eq', value];
}

function stringList(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw badRequest(`filter_conditions.${field} must be a list of strings`);
  return v;
}

export function parseCallSort(value: unknown): CallSort[] {
  if (value === undefined || value === null) return [{ column: 'created_at', direction: -1 }];
  if (!Array.isArray(value)) throw badRequest('sort must be a list');
  if (value.length > 2) throw badRequest('sort accepts at most 2 fields');
  return value.map((s, i) => {
    if (!isPlainObject(s) || typeof s.field !== 'string') throw badRequest(`sort[${i}].field is required`);
    const column = CALL_COLUMNS[s.field];
    if (!column || column === 'created_by_id' || column === 'team') throw badRequest(`sort[${i}].field ${s.field} is not sortable`);
    const direction = s.direction === undefined ? 1 : s.direction;
    if (direction !== 1 && direction !== -1) throw badRequest(`sort[${i}].direction must be 1 or -1`);
    return { column, direction };
  });
}

export function parseLimit(value: unknown, field = 'limit', max = MAX_QUERY_LIMIT): number {
  if (value === undefined || value === null) return DEFAULT_QUERY_LIMIT;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw badRequest(`${field} must be a non-negative integer`);
  if (value > max) throw badRequest(`${field} must be at most ${max}`);
  return value === 0 ? DEFAULT_QUERY_LIMIT : value;
}

/** Cursors are opaque to clients: the offset of the page they point at. */
export function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

export function decodeCursor(value: unknown, field: string): number {
  if (typeof value !== 'string') throw badRequest(`${field} must be a string cursor`);
  try {
    const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as { o?: unknown };
    if (typeof parsed.o === 'number' && Number.isInteger(parsed.o) && parsed.o >= 0) return parsed.o;
  } catch {
    // fall through
  }
  throw badRequest(`${field} is not a valid cursor`);
}

/**
 * QueryUsersPayload -> store query. Filters: id ($eq, $in), role ($eq), name ($eq, $in,
 * $autocomplete), custom.<path> ($eq, $ne, $in).
 */
export function parseUserQuery(payload: JsonObject): UserQuery {
  const fc = payload.filter_conditions;
  if (fc !== undefined && !isPlainObject(fc)) throw badRequest('filter_conditions must be an object');
  const q: UserQuery = { sort: [], limit: parseLimit(payload.limit), offset: 0 };
  if (payload.offset !== undefined) {
    if (typeof payload.offset !== 'number' || !Number.isInteger(payload.offset) || payload.offset < 0 || payload.offset > 1000) {
      throw badRequest('offset must be an integer from 0 to 1000');
    }
    q.offset = payload.offset;
  }
  for (const [key, value] of Object.entries(fc ?? {})) {
    const [op, operand] = operatorOf(key, value);
    if (key === 'id') {
      if (op === '$eq' && typeof operand === 'string') q.ids = [operand];
      else if (op === '$in') q.ids = stringList(operand, 'id');
      else throw badRequest('filter_conditions.id supports $eq and $in');
    } else if (key === 'role') {
      if (op !== '$eq' || typeof operand !== 'string') throw badRequest('filter_conditions.role supports $eq with a string');
      q.role = operand;
    } else if (key === 'name') {
      if ((op === '$eq' || op === '$autocomplete') && typeof operand === 'string') {
        if (op === '$autocomplete' && operand.trim() === '') throw badRequest('filter_conditions.name.$autocomplete must not be empty');
        q.name = { op, value: [op === '$autocomplete' ? operand.trim() : operand] };
      } else if (op === '$in') q.name = { op, value: stringList(operand, 'name') };
      else throw badRequest('filter_conditions.name supports $eq, $in and $autocomplete with strings');
    } else if (key.startsWith('custom.')) {
      const path = key.slice('custom.'.length).split('.');
      if (path.some((p) => p === '' || !/^[\w-]+$/.test(p))) throw badRequest(`filter_conditions.${key}: invalid custom field path`);
      if (op !== '$eq' && op !== '$ne' && op !== '$in') throw badRequest(`filter_conditions.${key} supports $eq, $ne and $in`);
      const values = op === '$in' ? (Array.isArray(operand) ? operand : null) : [operand];
      if (!values || !values.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) {
        throw badRequest(`filter_conditions.${key} values must be strings, numbers or booleans`);
      }
      (q.custom ??= []).push({ path, op, value: values as Array<string | number | boolean> });
    } else {
      throw badRequest(`filter_conditions.${key} is not a supported filter field`);
    }
  }
  if (payload.sort !== undefined) {
    if (!Array.isArray(payload.sort) || payload.sort.length > 5) throw badRequest('sort must be a list of at most 5 fields');
    q.sort = payload.sort.map((s, i) => {
      if (!isPlainObject(s) || !['id', 'created_at', 'updated_at', 'name', 'role'].includes(s.field as string)) {
        throw badRequest(`sort[${i}].field must be one of id, created_at, updated_at, name, role`);
      }
      const direction = s.direction === undefined ? 1 : s.direction;
      if (direction !== 1 && direction !== -1) throw badRequest(`sort[${i}].direction must be 1 or -1`);
      return { field: s.field as UserQuery['sort'][number]['field'], direction };
    });
  }
  return q;
}
