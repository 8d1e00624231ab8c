/**
 * The booking statuses keep their REST names on every edge: the GraphQL BookingStatus enum and the
 * proto's goticket.v1.BookingStatus list exactly the domain's statuses (upper-cased, the proto's
 * with its BOOKING_STATUS_ prefix and the UNSPECIFIED zero), so a status added to the domain and
 * not to a contract fails here.
 */
import { GraphQLEnumType } from 'graphql';
import { BOOKING_STATUSES } from '../../src/domain/booking';
import { schema } from '../../src/graphql/schema';
import { loadProtos } from '../../src/grpc/protos';

const expected = BOOKING_STATUSES.map((status) => status.toUpperCase()).sort();

it('GraphQL BookingStatus: one value per domain status, named after it', () => {
  const type = schema.getType('BookingStatus');
  expect(type).toBeInstanceOf(GraphQLEnumType);
  const values = (type as GraphQLEnumType).getValues();
  expect(values.map((value) => value.name).sort()).toEqual(expected);
  expect(Object.fromEntries(values.map((value) => [value.name, value.value]))).toEqual(
    Object.fromEntries(BOOKING_STATUSES.map((status) => [status.toUpperCase(), status])),
  );
});

it('proto goticket.v1.BookingStatus: UNSPECIFIED plus one value per domain status', () => {
  const definition = loadProtos()['goticket.v1.BookingStatus'] as unknown as { type: { value: Array<{ name: string; number: number }> } };
  const names = definition.type.value.map((value) => value.name);
  expect(names[0]).toBe('BOOKING_STATUS_UNSPECIFIED');
  expect(
    names
      .slice(1)
      .map((name) => name.replace(/^BOOKING_STATUS_/, ''))
      .sort(),
  ).toEqual(expected);
});
