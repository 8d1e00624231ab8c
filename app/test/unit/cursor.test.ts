import { decodeCursor, encodeCursor } from '../../src/adapters/postgres/cursor';
import { ValidationError } from '../../src/domain/errors';

const ID = '6f1c2a9e-3b7d-4c1e-9a2b-0d4e5f6a7b8c';
const forge = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

describe('keyset cursor', () => {
  it('round-trips what it encodes', () => {
    for (const time of [new Date('2031-01-01T10:00:00.123Z'), new Date('0001-01-01T00:00:00.000Z'), new Date('9999-12-31T23:59:59.999Z')]) {
      expect(decodeCursor(encodeCursor(time, ID))).toEqual({ t: time.toISOString(), id: ID });
    }
  });

  // Each of these passes Date.parse, and PostgreSQL refuses it as a timestamptz: the query would fail with a 500.
  it.each([
    ['a bare number', '1'],
    ['30 February', '2030-02-30T00:00:00.000Z'],
    ['a date without a time', '2030-01-01'],
    ['year 0', '0000-01-01T00:00:00.000Z'],
    ['an extended year before 4713 BC', '-271821-04-20T00:00:00.000Z'],
    ['an extended year', '+275760-09-13T00:00:00.000Z'],
    ['a local time', '2030-01-01T10:00:00'],
    ['an offset', '2030-01-01T10:00:00.000+02:00'],
    ['hour 24', '2030-01-01T24:00:00.000Z'],
    ['month 13', '2030-13-01T00:00:00.000Z'],
  ])('refuses a forged timestamp: %s', (_name, t) => {
    expect(() => decodeCursor(forge({ t, id: ID }))).toThrow(ValidationError);
  });

  it.each([
    ['no id', { t: '2030-01-01T00:00:00.000Z' }],
    ['an id that is not a UUID', { t: '2030-01-01T00:00:00.000Z', id: "1' OR '1'='1" }],
    ['a number as time', { t: 1_900_000_000_000, id: ID }],
    ['null', null],
    ['an array', ['2030-01-01T00:00:00.000Z', ID]],
  ])('refuses a forged key: %s', (_name, key) => {
    expect(() => decodeCursor(forge(key))).toThrow(ValidationError);
  });

  it('refuses what is not base64url JSON', () => {
    for (const cursor of ['not a cursor', 'bm90LWpzb24', 'x'.repeat(201), '']) expect(() => decodeCursor(cursor)).toThrow(ValidationError);
  });
});
