/**
 * The MongoDB-style filter grammar used by `participant.filter` and by `custom_actions` conditions:
 *   { field: value }                        equality (several fields = all must hold)
 *   { field: { $eq|$neq|$gt|$gte|$lt|$lte|$in|$contains: value } }
 *   { $and: [f, ...] } | { $or: [f, ...] } | { $not: f }
 * `$contains` tests that an array field holds the value; `$in` that the field is one of the values.
 */
export type FilterValue = string | number | boolean | null;
export type Filter = Record<string, unknown>;

const FIELD_OPERATORS = new Set(['$eq', '$neq', '$gt', '$gte', '$lt', '$lte', '$in', '$contains']);

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Returns undefined when the filter is well formed, else a description of the first problem. */
export function filterProblem(filter: unknown, path = ''): string | undefined {
  if (!isPlainObject(filter)) return `${path || 'filter'} must be an object`;
  for (const [key, value] of Object.entries(filter)) {
    const at = path ? `${path}.${key}` : key;
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value)) return `${at} must be an array of filters`;
      for (let i = 0; i < value.length; i++) {
        const p = filterProblem(value[i], `${at}[${i}]`);
        if (p) return p;
      }
    } else if (key === '$not') {
      const p = filterProblem(value, at);
      if (p) return p;
    } else if (key.startsWith('$')) {
      return `unknown operator ${at}`;
    } else if (isPlainObject(value)) {
      for (const [op, operand] of Object.entries(value)) {
        if (!FIELD_OPERATORS.has(op)) return `unknown operator ${at}.${op}`;
        if (op === '$in' && !Array.isArray(operand)) return `${at}.$in must be an array`;
      }
    }
  }
  return undefined;
}

function equal(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => equal(v, b[i]));
  return a === b;
}

function compare(a: unknown, b: unknown, test: (x: number) => boolean): boolean {
  if (typeof a === 'number' && typeof b === 'number') return test(a - b);
  if (typeof a === 'string' && typeof b === 'string') return test(a < b ? -1 : a > b ? 1 : 0);
  return false;
}

function fieldMatches(actual: unknown, condition: unknown): boolean {
  if (!isPlainObject(condition)) return equal(actual, condition);
  return Object.entries(condition).every(([op, operand]) => {
    switch (op) {
      case '$eq':
        return equal(actual, operand);
      case '$neq':
        return !equal(actual, operand);
      case '$gt':
        return compare(actual, operand, (d) => d > 0);
      case '$gte':
        return compare(actual, operand, (d) => d >= 0);
      case '$lt':
        return compare(actual, operand, (d) => d < 0);
      case '$lte':
        return compare(actual, operand, (d) => d <= 0);
      case '$in':
        return Array.isArray(operand) && operand.some((v) => equal(actual, v));
      case '$contains':
        return Array.isArray(actual) && actual.some((v) => equal(v, operand));
      default:
        return false;
    }
  });
}

/** Evaluates a (well-formed) filter against a record. A malformed filter matches nothing. */
export function matchesFilter(filter: unknown, record: Readonly<Record<string, unknown>>): boolean {
  if (!isPlainObject(filter)) return false;
  return Object.entries(filter).every(([key, value]) => {
    if (key === '$and') return Array.isArray(value) && value.every((f) => matchesFilter(f, record));
    if (key === '$or') return Array.isArray(value) && value.some((f) => matchesFilter(f, record));
    if (key === '$not') return !matchesFilter(value, record);
    if (key.startsWith('$')) return false;
    return fieldMatches(record[key], value);
  });
}
