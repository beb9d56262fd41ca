/** The `:type/:id` path parameters every call route has, checked by the one call-id rule. */
import { isCallPathPart, validateCallPathPart } from '../wire/call-cid.js';

export interface CallParams {
  type: string;
  id: string;
}

/** Throws 400 naming the part unless both are valid call path parts. */
export function checkCallParams(params: CallParams): void {
  validateCallPathPart(params.type, 'call type');
  validateCallPathPart(params.id, 'call id');
}

/** Whether both parts are valid (for surfaces that answer something else than 400). */
export function isCallParams(params: CallParams): boolean {
  return isCallPathPart(params.type) && isCallPathPart(params.id);
}
