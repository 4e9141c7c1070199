// A real OpenID Connect provider (npm `oidc-provider`) for tests, on 127.0.0.1 only.
// Usage: node oidc_provider.mjs CONFIG.json INSTALL_DIR (where `npm install oidc-provider` put node_modules) — the config names the port and one client per
// test user: {"port": 0, "clients": {"alice": {"secret": "...", "groups": ["finance"], "ttl": 600}}}.
// Each client gets tokens with the client_credentials grant; a `resource` parameter (RFC 8707)
// makes the access token a JWT with that audience, and `extraTokenClaims` adds the user's name
// and groups, so a test can mint a token for a named user. Prints "listening <issuer>" when up.
import { readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const { default: Provider } = await import(pathToFileURL(join(process.argv[3], 'node_modules/oidc-provider/lib/index.js')).href);

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'orgkb-test-key', use: 'sig', alg: 'RS256' };
const users = config.clients;

const server = createServer();
server.listen(config.port || 0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    jwks: { keys: [jwk] },
    clients: Object.entries(users).map(([id, user]) => ({
      client_id: id,
      client_secret: user.secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
    })),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => ({
          scope: 'mcp',
          audience: resource,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    ttl: { ClientCredentials: (_ctx, _token, client) => users[client.clientId].ttl ?? 600 },
    extraTokenClaims: (_ctx, token) => {
      const user = users[token.clientId];
      return user ? { preferred_username: user.user ?? token.clientId, groups: user.groups ?? [] } : undefined;
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(`listening ${issuer}\n`);
});
