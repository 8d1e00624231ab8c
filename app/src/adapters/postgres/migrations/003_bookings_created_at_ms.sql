-- Booking lists page by (created_at, id) with a cursor that carries created_at as a JavaScript
-- Date, i.e. to the millisecond, while now() has microseconds. Every booking created in the same
-- millisecond as the last one of a page, but a few microseconds before it, fell between the
-- pages: an admin paging through 300 bookings made at once saw 36 of them. Stored to the
-- millisecond, created_at is exactly what the cursor carries, and the id breaks the ties.
-- Writers must leave created_at to this default (or truncate it the same way).
ALTER TABLE bookings ALTER COLUMN created_at SET DEFAULT date_trunc('milliseconds', now());

UPDATE bookings SET created_at = date_trunc('milliseconds', created_at)
 WHERE created_at <> date_trunc('milliseconds', created_at);
