import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  apiError,
  connectionError,
  connectionOk,
  containsHealthCheck,
  eventTargetsUser,
  healthCheck,
  parseAuthMessage,
  toWireApiError,
} from '../../src/events/connect-protocol.js';
import type { Logger } from '../../src/log.js';
import { ErrorCodes, unauthenticated } from '../../src/wire/errors.js';
import { createLogger } from '../../src/log.js';

test('parseAuthMessage accepts the WSAuthMessage shape', () => {
  const parsed = parseAuthMessage(JSON.stringify({ token: 't', user_details: { id: 'u1', name: 'U' }, products: ['video'] }));
  assert.deepEqual(parsed, { ok: true, auth: { token: 't', userDetails: { id: 'u1', name: 'U' }, products: ['video'] } });
  const noProducts = parseAuthMessage(JSON.stringify({ token: 't', user_details: { id: 'u1' } }));
  assert.deepEqual(noProducts, { ok: true, auth: { token: 't', userDetails: { id: 'u1' } } });
});

test('parseAuthMessage refuses anything else with a reason', () => {
  for (const text of [
    'nope',
    '[]',
    'null',
    '"x"',
    JSON.stringify({ user_details: { id: 'u' } }),
    JSON.stringify({ token: 't' }),
    JSON.stringify({ token: 't', user_details: {} }),
    JSON.stringify({ token: 't', user_details: { id: '' } }),
    JSON.stringify({ token: 't', user_details: { id: 'u' }, products: 'video' }),
  ]) {
    const parsed = parseAuthMessage(text);
    assert.equal(parsed.ok, false, text);
    if (!parsed.ok) assert.ok(parsed.detail.length > 0);
  }
});

test('containsHealthCheck reads single messages and arrays', () => {
  assert.equal(containsHealthCheck('[{"type":"health.check","client_id":"u--1"}]'), true);
  assert.equal(containsHealthCheck('{"type":"health.check"}'), true);
  assert.equal(containsHealthCheck('[{"type":"other"}]'), false);
  assert.equal(containsHealthCheck('garbage'), false);
  assert.equal(containsHealthCheck('[null, 1]'), false);
});

test('APIError on the wire uses StatusCode and keeps ApiError-like codes; other errors become opaque', () => {
  const e = apiError(2, 401, 'api_key not valid');
  assert.deepEqual(Object.keys(e).sort(), ['StatusCode', 'code', 'details', 'duration', 'message', 'more_info']);
  assert.equal(e.message, 'WSConnect failed with error: "api_key not valid"');
  const kept = toWireApiError({ code: 40, message: 'token expired', statusCode: 401 });
  assert.equal(kept.code, 40);
  assert.equal(kept.StatusCode, 401);
  assert.equal(kept.message, 'token expired');
  const opaque = toWireApiError(new Error('connection to db at postgres://user:pw@host failed'));
  assert.equal(opaque.code, -1);
  assert.equal(opaque.StatusCode, 500);
  assert.doesNotMatch(opaque.message, /postgres/);
});

test('server messages carry type, connection_id and an RFC3339 created_at', () => {
  for (const m of [connectionOk('c1', { id: 'u' }), connectionError('c1', apiError(5, 401, 'x')), healthCheck('c1')]) {
    assert.equal(m.connection_id, 'c1');
    assert.equal(new Date(m.created_at).toISOString(), m.created_at);
  }
  assert.deepEqual(healthCheck('c1').custom, {});
});

test('events without call_cid reach only the user they name', () => {
  const at = new Date().toISOString();
  assert.equal(eventTargetsUser({ type: 'user.updated', created_at: at, user: { id: 'a' } }, 'a'), true);
  assert.equal(eventTargetsUser({ type: 'user.updated', created_at: at, user: { id: 'b' } }, 'a'), false);
  assert.equal(eventTargetsUser({ type: 'x', created_at: at, user_id: 'a' }, 'a'), true);
  assert.equal(eventTargetsUser({ type: 'x', created_at: at }, 'a'), false);
});

test("the process logger (pino) fits the event plane's Logger", () => {
  const log: Logger = createLogger('silent');
  log.info({ a: 1 }, 'typed');
  assert.ok(log);
});

test("the wire contract's ApiError maps to the wire APIError with the message convention", () => {
  const wire = toWireApiError(unauthenticated('token is expired', ErrorCodes.tokenExpired));
  assert.equal(wire.code, 40);
  assert.equal(wire.StatusCode, 401);
  assert.equal(wire.message, 'WSConnect failed with error: "token is expired"');
});
