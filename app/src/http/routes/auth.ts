import type { AuthService } from '../../services/auth';
import type { UserService } from '../../services/users';
import { route, type RouteSpec } from '../route';
import { IdParams, LoginBody, RefreshBody, RegisterBody, RoleBody, TokenPairJson, UserJson } from '../schemas';
import { callContext, userJson } from './context';

const problem = (description: string) => ({ description });

export function authRoutes(auth: AuthService, users: UserService): RouteSpec[] {
  return [
    route({
      method: 'post',
      path: '/auth/register',
      summary: 'Create an account (role user)',
      tags: ['auth'],
      auth: 'public',
      body: RegisterBody,
      responses: {
        201: { description: 'Created', schema: UserJson },
        400: problem('Invalid body'),
        409: problem('Email already registered'),
      },
      async handler({ body }) {
        return { status: 201, body: userJson(await auth.register(body.email, body.password)) };
      },
    }),
    route({
      method: 'post',
      path: '/auth/login',
      summary: 'Exchange email and password for tokens',
      tags: ['auth'],
      auth: 'public',
      body: LoginBody,
      responses: {
        200: { description: 'Tokens', schema: TokenPairJson },
        400: problem('Invalid body'),
        401: problem('Wrong email or password'),
      },
      async handler({ body, req }) {
        return { status: 200, body: await auth.login(body.email, body.password, callContext(req)) };
      },
    }),
    route({
      method: 'post',
      path: '/auth/refresh',
      summary: 'Rotate a refresh token; reusing a rotated one revokes its whole family',
      tags: ['auth'],
      auth: 'public',
      body: RefreshBody,
      responses: { 200: { description: 'New tokens', schema: TokenPairJson }, 401: problem('Invalid, expired or reused refresh token') },
      async handler({ body, req }) {
        return { status: 200, body: await auth.refresh(body.refreshToken, callContext(req)) };
      },
    }),
    route({
      method: 'post',
      path: '/auth/logout',
      summary: 'Revoke a refresh token (and its family)',
      tags: ['auth'],
      auth: 'public',
      body: RefreshBody,
      responses: { 204: { description: 'Revoked' }, 400: problem('Invalid body') },
      async handler({ body, req }) {
        await auth.logout(body.refreshToken, callContext(req));
        return { status: 204 };
      },
    }),
    route({
      method: 'post',
      path: '/auth/logout-all',
      summary: 'Sign out everywhere: revokes every refresh token and every access token issued so far',
      tags: ['auth'],
      auth: 'user',
      responses: { 204: { description: 'Every session ended' }, 401: problem('Not signed in') },
      async handler({ actor, req }) {
        await auth.logoutEverywhere(actor, callContext(req));
        return { status: 204 };
      },
    }),
    route({
      method: 'get',
      path: '/users/me',
      summary: 'The signed-in user',
      tags: ['users'],
      auth: 'user',
      responses: { 200: { description: 'The user', schema: UserJson }, 401: problem('Not signed in') },
      async handler({ actor }) {
        return { status: 200, body: userJson(await users.me(actor)) };
      },
    }),
    route({
      method: 'patch',
      path: '/users/:id/role',
      summary: "Change a user's role",
      tags: ['users'],
      auth: 'user',
      roles: ['admin'],
      params: IdParams,
      body: RoleBody,
      responses: { 200: { description: 'Updated user', schema: UserJson }, 403: problem('Not an admin'), 404: problem('No such user') },
      async handler({ actor, params, body, req }) {
        return { status: 200, body: userJson(await users.setRole(actor, params.id, body.role, callContext(req))) };
      },
    }),
  ];
}
