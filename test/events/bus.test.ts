import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InProcessEventBus } from '../../src/events/bus.js';
import type { WireEvent } from '../../src/events/contract.js';
import { RecordingLogger } from './helpers.js';

const event = (type: string): WireEvent => ({ type, created_at: new Date().toISOString(), call_cid: 'default:a' });

test('publish fans out synchronously, in order, to every subscriber', () => {
  const bus = new InProcessEventBus();
  const seen: string[] = [];
  bus.subscribe((e) => seen.push(`a:${e.type}`));
  bus.subscribe((e) => seen.push(`b:${e.type}`));
  bus.publish(event('call.updated'));
  bus.publish(event('call.ended'));
  assert.deepEqual(seen, ['a:call.updated', 'b:call.updated', 'a:call.ended', 'b:call.ended']);
});

test('a throwing subscriber is logged and does not break publish or the others', () => {
  const log = new RecordingLogger();
  const bus = new InProcessEventBus({ log });
  const seen: string[] = [];
  bus.subscribe(() => {
    throw new Error('boom');
  });
  bus.subscribe((e) => seen.push(e.type));
  assert.doesNotThrow(() => bus.publish(event('call.created')));
  assert.deepEqual(seen, ['call.created']);
  assert.match(log.text(), /error .*boom.*event subscriber failed/);
});

test('unsubscribe stops delivery, also when done during a publish', () => {
  const bus = new InProcessEventBus();
  const seen: string[] = [];
  let offB: () => void = () => {};
  const offA = bus.subscribe((e) => {
    seen.push(`a:${e.type}`);
    offB();
  });
  offB = bus.subscribe((e) => seen.push(`b:${e.type}`));
  bus.publish(event('one'));
  assert.deepEqual(seen, ['a:one']);
  offA();
  bus.publish(event('two'));
  assert.deepEqual(seen, ['a:one']);
  assert.equal(bus.subscriberCount, 0);
});

test('the same handler subscribed twice is called twice and unsubscribed independently', () => {
  const bus = new InProcessEventBus();
  let calls = 0;
  const handler = () => void calls++;
  const off1 = bus.subscribe(handler);
  bus.subscribe(handler);
  bus.publish(event('x'));
  assert.equal(calls, 2);
  off1();
  bus.publish(event('y'));
  assert.equal(calls, 3);
});
