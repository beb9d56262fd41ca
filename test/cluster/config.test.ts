/**
 * Cluster mode in the configuration: on with CALLCAST_REDIS_URL, which needs a PostgreSQL store;
 * the node's name (CALLCAST_NODE_ID) and its default.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { defaultNodeId } from '../../src/cluster/node-id.js';

const PG = 'postgres://callcast@db.internal/callcast';

describe('loadConfig: cluster mode', () => {
  it('is off without CALLCAST_REDIS_URL', () => {
    const c = loadConfig({ CALLCAST_DATABASE_URL: PG });
    assert.equal(c.redisUrl, undefined);
    assert.equal(c.nodeId, undefined);
  });

  it('is on with a Redis URL and a PostgreSQL store', () => {
    const c = loadConfig({ CALLCAST_DATABASE_URL: PG, CALLCAST_REDIS_URL: 'redis://127.0.0.1:6379/0', CALLCAST_NODE_ID: 'node-a' });
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379/0');
    assert.equal(c.nodeId, 'node-a');
  });

  it('refuses Redis with the embedded SQLite store, saying what to set', () => {
    assert.throws(
      () => loadConfig({ CALLCAST_REDIS_URL: 'redis://127.0.0.1:6379' }),
      (err: unknown) => err instanceof ConfigError && /needs a PostgreSQL CALLCAST_DATABASE_URL/.test(err.message),
    );
  });

  it('refuses a URL that is not redis:// and a node id without cluster mode', () => {
    assert.throws(() => loadConfig({ CALLCAST_DATABASE_URL: PG, CALLCAST_REDIS_URL: 'http://127.0.0.1:6379' }), ConfigError);
    assert.throws(() => loadConfig({ CALLCAST_DATABASE_URL: PG, CALLCAST_NODE_ID: 'a' }), /needs CALLCAST_REDIS_URL/);
    assert.throws(
      () => loadConfig({ CALLCAST_DATABASE_URL: PG, CALLCAST_REDIS_URL: 'redis://127.0.0.1', CALLCAST_NODE_ID: 'bad id' }),
      /CALLCAST_NODE_ID must be/,
    );
  });

  it('names a node by host name and port by default', () => {
    assert.equal(defaultNodeId('media-3', 3031), 'media-3:3031');
  });
});
