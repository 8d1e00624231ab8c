/** Snapshots: a reviewable record of every object per environment (`npx jest charts -u` after an intended change). */
import { ENVIRONMENTS } from '../environments';
import { contextFor, synthObjects } from '../main';

test.each(ENVIRONMENTS.map((env) => env.name))('%s synthesizes the recorded objects', (name) => {
  const env = ENVIRONMENTS.find((e) => e.name === name)!;
  expect(synthObjects(contextFor(env))).toMatchSnapshot();
});
