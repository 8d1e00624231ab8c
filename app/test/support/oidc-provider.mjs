// A real OpenID provider for the social sign-in tests: oidc-provider (panva, OpenID Certified),
// the "Google" issuer. ESM-only, so it runs in a child process the test starts (node, not jest);
// it listens on 127.0.0.1, port 0, and prints `READY <issuer>` on stdout.
//
// Configuration (env OIDC_FIXTURE, JSON): { client: {client_id, client_secret, redirect_uris},
// accounts: { <sub>: {email, email_verified} } }. Logins go through the provider's own
// interaction endpoints (its development login and consent forms, any password).
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const fixture = JSON.parse(process.env.OIDC_FIXTURE ?? '{}');
const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      ...fixture.client,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: 'RS256',
    },
  ],
  async findAccount(_ctx, id) {
    const account = fixture.accounts?.[id];
    if (!account) return undefined;
    return { accountId: id, claims: () => ({ sub: id, email: account.email, email_verified: account.email_verified }) };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  // Google puts email and email_verified in the ID token itself; so does this provider.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  cookies: { keys: ['oidc-fixture-cookie-key-0123456789'] },
  features: { devInteractions: { enabled: true } },
  ttl: { AuthorizationCode: 60, IdToken: 300, AccessToken: 300, Interaction: 600, Session: 600, Grant: 600 },
});
// Quiet: the test reads only the READY line.
provider.on('server_error', () => undefined);
server.on('request', provider.callback());
process.stdout.write(`READY ${issuer}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
