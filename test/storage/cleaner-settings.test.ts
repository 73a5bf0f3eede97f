import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyCleanerSettings, DEFAULT_CLEANER_SETTINGS, describeCleanerSettings } from '../../src/storage/cleaner-settings.js';
import { ErrorCode } from '../../src/protocol/errors.js';

const IO = 'log.cleaner.io.max.bytes.per.second';
const MAP = 'log.cleaner.dedupe.buffer.size';

test('the I/O bound is described as Java writes a double, as Kafka\'s tools show it', () => {
  const described = (ioBytesPerSecond: number) => describeCleanerSettings({ ...DEFAULT_CLEANER_SETTINGS, ioBytesPerSecond })[IO];
  assert.deepEqual(
    [1024, 1536.5, 9_999_999, 10_000_000, 12_345_678.9, 104_857_600, Infinity].map(described),
    ['1024.0', '1536.5', '9999999.0', '1.0E7', '1.23456789E7', '1.048576E8', '1.7976931348623157E308'],
  );
  assert.equal(describeCleanerSettings(DEFAULT_CLEANER_SETTINGS)[MAP], '134217728');
});

test('settings are parsed by Kafka\'s names; other names are passed over; a bad value is INVALID_CONFIG', () => {
  assert.deepEqual(applyCleanerSettings(DEFAULT_CLEANER_SETTINGS, { [IO]: '1e7', [MAP]: '1048576', 'retention.ms': 'not mine' }), { ioBytesPerSecond: 1e7, mapBytes: 1048576 });
  // Kafka's default written back, Java's largest double, is no bound
  assert.equal(applyCleanerSettings(DEFAULT_CLEANER_SETTINGS, { [IO]: '1.7976931348623157E308' }).ioBytesPerSecond, Infinity);
  for (const [name, value] of [[IO, '1023'], [IO, '0x1000'], [IO, 'Infinity'], [IO, ''], [MAP, '1048575'], [MAP, '2.5e6'], [MAP, '-1']]) {
    assert.throws(() => applyCleanerSettings(DEFAULT_CLEANER_SETTINGS, { [name!]: value! }), (err: { code?: number; message: string }) => err.code === ErrorCode.INVALID_CONFIG && err.message.includes(name!), `${name}=${value}`);
  }
});
