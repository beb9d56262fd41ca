/**
 * Call cids (`<type>:<id>`): the one place they are built and split, and the one rule for the two
 * path parts (letters, digits, `_` and `-`, at most 64).
 */
import { badRequest } from './errors.js';

const PATH_PART = /^[A-Za-z0-9_-]{1,64}$/;

export function callCid(type: string, id: string): string {
  return `${type}:${id}`;
}

/** The type and id of a cid, or null when it is not `<type>:<id>` with a non-empty type. */
export function parseCallCid(cid: string): { type: string; id: string } | null {
  const sep = cid.indexOf(':');
  if (sep <= 0) return null;
  return { type: cid.slice(0, sep), id: cid.slice(sep + 1) };
}

/** Whether the value may be a call type or call id. */
export function isCallPathPart(value: string): boolean {
  return PATH_PART.test(value);
}

/** Throws 400 unless the value may be a call type or call id; `what` names it in the message. */
export function validateCallPathPart(value: string, what: string): void {
  if (!isCallPathPart(value)) throw badRequest(`${what} must be 1 to 64 letters, digits, '_' or '-'`);
}
