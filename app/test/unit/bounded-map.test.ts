import { setBounded } from '../../src/bounded-map';

test('holds at most max entries, forgetting the oldest first; setting a key again makes it the newest', () => {
  const map = new Map<string, number>();
  for (const [i, key] of ['a', 'b', 'c'].entries()) setBounded(map, key, i, 3);
  setBounded(map, 'a', 10, 3); // a is now the newest: b is the oldest
  setBounded(map, 'd', 3, 3);
  expect([...map]).toEqual([['c', 2], ['a', 10], ['d', 3]]);
});
