/** The console's pure helpers for recent destinations and call links. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  forgetDestination,
  keyHint,
  maskedHint,
  MAX_RECENT_DESTINATIONS,
  parseRecentDestinations,
  rememberDestination,
  serializeRecentDestinations,
} from '../../web/src/lib/destinations.js';
import { guestLink, joinLink, suggestCallId } from '../../web/src/lib/links.js';
import { maskKey, table } from '../../src/cli/output.js';

const start = (name: string, streamKey = '', streamUrl = 'rtmp://127.0.0.1:1935/live') => ({
  name,
  streamUrl,
  streamKey,
  quality: '720p',
  layout: 'grid',
});

test('a remembered destination keeps the last four characters of its key, never the key', () => {
  const list = rememberDestination([], start('youtube', 'abcd-efgh-ijkl-5f1c', 'rtmps://a.rtmps.youtube.com/live2'), 1000);
  assert.deepEqual(list, [
    { name: 'youtube', streamUrl: 'rtmps://a.rtmps.youtube.com/live2', keyHint: '5f1c', quality: '720p', layout: 'grid', usedAt: 1000 },
  ]);
  const stored = serializeRecentDestinations(list);
  assert.ok(!stored.includes('abcd-efgh-ijkl'), stored);
  assert.deepEqual(parseRecentDestinations(stored), list);
  // Short keys leave no hint: four characters of six would give most of it away.
  assert.equal(keyHint('secret'), '');
  assert.equal(keyHint(''), '');
  assert.equal(maskedHint('5f1c'), '••••5f1c');
  assert.equal(maskedHint(''), '');
});

test('recent destinations: newest first, one entry per name and URL, bounded, forgettable', () => {
  let list = rememberDestination([], start('a', 'key-0000-aaaa'), 1);
  list = rememberDestination(list, start('b'), 2);
  list = rememberDestination(list, start('a', 'key-0000-bbbb'), 3);
  assert.deepEqual(
    list.map((d) => [d.name, d.keyHint]),
    [
      ['a', 'bbbb'],
      ['b', ''],
    ],
  );
  list = rememberDestination(list, start('a', '', 'rtmp://other/live'), 4);
  assert.deepEqual(
    list.map((d) => d.name),
    ['a', 'a', 'b'],
  );
  for (let i = 0; i < 10; i++) list = rememberDestination(list, start(`n${i}`), 10 + i);
  assert.equal(list.length, MAX_RECENT_DESTINATIONS);
  assert.equal(list[0]!.name, 'n9');
  list = forgetDestination(list, { name: 'n9', streamUrl: 'rtmp://127.0.0.1:1935/live' });
  assert.equal(list[0]!.name, 'n8');
});

test('stored destinations: malformed entries and anything that could hold a key are dropped', () => {
  assert.deepEqual(parseRecentDestinations(null), []);
  assert.deepEqual(parseRecentDestinations('not json'), []);
  assert.deepEqual(parseRecentDestinations('{"name":"x"}'), []);
  const good = { name: 'ok', streamUrl: 'rtmp://h/live', keyHint: '', quality: '', layout: '', usedAt: 5 };
  const parsed = parseRecentDestinations(
    JSON.stringify([
      good,
      { ...good, name: 'long-hint', keyHint: 'the-whole-key' },
      { ...good, name: 'http', streamUrl: 'http://h/live' },
      { ...good, name: 'extra', streamKey: 'full-key-here', usedAt: 6 },
    ]),
  );
  assert.deepEqual(
    parsed.map((d) => d.name),
    ['extra', 'ok'],
  );
  assert.ok(!JSON.stringify(parsed).includes('full-key-here'));
});

test('join and guest links', () => {
  assert.equal(joinLink('http://127.0.0.1:3030/', 'default', 'standup'), 'http://127.0.0.1:3030/join/default/standup');
  assert.equal(
    guestLink('http://127.0.0.1:3030', 'default', 'standup', ' Ada Lovelace '),
    'http://127.0.0.1:3030/join/default/standup?name=Ada%20Lovelace',
  );
  assert.equal(guestLink('http://127.0.0.1:3030', 'default', 'standup', '  '), 'http://127.0.0.1:3030/join/default/standup');
  assert.match(suggestCallId(), /^call-[a-z2-9]{6}$/);
  assert.equal(
    suggestCallId(() => 0),
    'call-aaaaaa',
  );
});

test('CLI output: masked keys, aligned tables', () => {
  assert.equal(maskKey('studio-key-5f1c'), '••••5f1c');
  assert.equal(maskKey('short'), '••••');
  assert.equal(
    table(
      ['A', 'BB'],
      [
        ['long value', 'x'],
        ['s', 'y'],
      ],
    ),
    'A           BB\nlong value  x\ns           y\n',
  );
});
