// HTTP Basic credentials for the metrics endpoint, as Prometheus' basic_auth sends them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basicAuthorizer } from '../../src/broker/metrics-access.js';

const basic = (credentials: string) => `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;

test('Basic credentials: the right password of a listed user only; other schemes, malformed headers and unknown users refused', () => {
  const authorized = basicAuthorizer({ prometheus: 'scrape:secret', 'grafana agent': 'pässword' });
  assert.equal(authorized(basic('prometheus:scrape:secret')), true, 'a password may hold colons');
  assert.equal(authorized(basic('grafana agent:pässword')), true, 'UTF-8 names and passwords');
  assert.equal(authorized(`basic   ${Buffer.from('prometheus:scrape:secret').toString('base64')}`), true, 'the scheme in any case');
  for (const header of [undefined, '', basic('prometheus:scrape'), basic('prometheus'), basic('nobody:scrape:secret'), basic(':'), 'Bearer abc', 'Basic !!!', `Digest ${basic('prometheus:scrape:secret').slice(6)}`]) {
    assert.equal(authorized(header), false, String(header));
  }
  // credentials without a colon are no user and password, whatever they could be split into
  assert.equal(basicAuthorizer({ ab: 'abc' })(basic('abc')), false);
});
