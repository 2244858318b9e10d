import type { RedisClient } from '../store/redis/client.js';
import Provider, { errors, type Adapter, type Configuration, type KoaContextWithOIDC, type interactionPolicy } from 'oidc-provider';
import type { Views } from '../http/render.js';
import { acrClaimRequestProblem } from '../stepup/requirement.js';
import type { AccountReads } from '../store/account-reads.js';
import type { ClientsRepo } from '../store/clients.repo.js';
import { createRedisAdapterFactory } from '../store/redis/oidc-adapter.js';
import { progressKey } from '../interactions/progress.js';
import { createFindAccount } from './accounts.js';
import { createClientAdapter } from './client-adapter.js';
import { clientApiScopes, type ClientInstance } from './client-metadata.js';
import { GRANT_ID_CLAIM } from './jwt-introspection.js';
import { createResourceIndicators } from './resources.js';
import { DEFAULT_ID_TOKEN_SIGNING_ALG, SIGNING_ALGORITHMS } from './signing-keys.js';
import type { ResourceSigningAlgs } from '../config/env.js';
import { describeProtocolError, failClosed, protocolErrorReport, failClosedAdapter, RETRY_AFTER_SECONDS, StoreUnavailable } from './errors.js';

/**
 * oidc-provider configuration (SPEC §5): protocol features on, dev interactions off, PKCE S256 for
 * every client, acr/amr/auth_time in every ID token and access token. The step-up decisions live in
 * the interaction policy handed in by the caller (src/oidc/policy.ts bridges to src/stepup/).
 */

export const TTL = {
  AccessToken: 600,
  AuthorizationCode: 60,
  ClientCredentials: 600,
  IdToken: 3600,
  Interaction: 900,
  Session: 14 * 24 * 3600,
  Grant: 30 * 24 * 3600, // >= RefreshToken, or refresh fails once the grant expires
  RefreshToken: 30 * 24 * 3600,
  DeviceCode: 600,
  BackchannelAuthenticationRequest: 600,
  PushedAuthorizationRequest: 60,
} as const;

export interface ProviderDeps {
  issuer: string;
  redis: RedisClient;
  redisKeyPrefix: string;
  /** the account for the protocol (memoized per request: the context is the scope; cached on the token paths) */
  accounts: Pick<AccountReads, 'account' | 'accountForTokens'>;
  clients: ClientsRepo;
  jwks: { keys: object[] };
  cookieKeys: string[];
  acrValues: string[];
  /** validates a client's `minimum_acr` (a known level) */
  isKnownAcr: (acr: string) => boolean;
  policy: interactionPolicy.Prompt[];
  views: Views;
  trustProxy: boolean;
  /** JWT access token signature per resource (RESOURCE_SIGNING_ALGS) */
  resourceSigningAlgs: ResourceSigningAlgs;
}

/**
 * Who may introspect a token: the client it was issued to (RFC 7662 §4 leaves the policy to the
 * server), and admin API clients (resource servers run by the operator), for any token. Used for
 * opaque tokens by oidc-provider and for JWT access tokens by jwt-introspection.ts.
 */
export function mayIntrospect(caller: { clientId: string } | undefined, tokenClientId: string): boolean {
  return caller !== undefined && (tokenClientId === caller.clientId || clientApiScopes(caller as ClientInstance).includes('admin'));
}

export function createProvider(deps: ProviderDeps): Provider {
  const redisAdapters = createRedisAdapterFactory(deps.redis, {
    prefix: `${deps.redisKeyPrefix}oidc:`,
    progressKey: (uid) => progressKey(deps.redisKeyPrefix, uid),
  });
  // deps.clients comes cached (withClientCache in app.ts), so admin changes can drop their records at once
  const clientAdapter = createClientAdapter(deps.clients);
  // issue #7: a store outage inside oidc-provider becomes temporarily_unavailable (503), never server_error
  const adapters = new Map<string, Adapter>();
  const adapter = (name: string): Adapter => {
    let a = adapters.get(name);
    if (!a) adapters.set(name, (a = failClosedAdapter(name === 'Client' ? clientAdapter : redisAdapters(name))));
    return a;
  };
  const findAccount = createFindAccount(deps.accounts);
  for (const prompt of deps.policy) {
    for (const check of prompt.checks) {
      const run = check.check.bind(check);
      check.check = (ctx) => failClosed(async () => run(ctx));
    }
  }

  const configuration: Configuration = {
    adapter: adapter as unknown as Configuration['adapter'],
    findAccount: (ctx, sub, token) => failClosed(async () => findAccount(ctx, sub, token)),
    jwks: deps.jwks as Configuration['jwks'],
    cookies: {
      keys: deps.cookieKeys,
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    // SPEC §2.8: acr, amr and auth_time in every ID token; oidc-provider drops acr unless acrValues is set
    acrValues: deps.acrValues,
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      acr: null,
      amr: null,
      auth_time: null,
      sid: null,
      email: ['email'],
      profile: ['name'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      // OIDC Dynamic Client Registration §2; every stored client carries its own (client-adapter.ts)
      id_token_signed_response_alg: DEFAULT_ID_TOKEN_SIGNING_ALG,
    },
    // only algorithms stepup holds a key for: discovery then lists exactly what a client may register
    enabledJWA: {
      idTokenSigningAlgValues: [...SIGNING_ALGORITHMS],
      userinfoSigningAlgValues: [...SIGNING_ALGORITHMS],
    },
    extraClientMetadata: {
      properties: ['minimum_acr', 'api_scopes'],
      validator(_ctx, key, value) {
        if (key === 'minimum_acr' && value !== undefined && (typeof value !== 'string' || !deps.isKnownAcr(value))) {
          throw new Error('minimum_acr must be one of the policy levels');
        }
        if (key === 'api_scopes' && value !== undefined && typeof value !== 'string') throw new Error('api_scopes must be a string');
      },
    },
    responseTypes: ['code', 'none'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: {
        enabled: true,
        // issue #14: a malformed acr claim request ends in invalid_request at the RP's redirect_uri;
        // then oidc-provider's own member check, which this option replaces
        assertClaimsParameter(_ctx, claims) {
          const problem = acrClaimRequestProblem(claims);
          if (problem) throw new errors.InvalidRequest(problem);
          for (const container of ['userinfo', 'id_token'] as const) {
            for (const value of Object.values(claims[container] ?? {})) {
              if (value !== null && (typeof value !== 'object' || Array.isArray(value))) throw new errors.InvalidRequest(`claims.${container} members must be null or objects`);
            }
          }
        },
      },
      // a client may introspect and revoke only tokens issued to it (RFC 7009 §2.1); admin API clients
      // (resource servers run by the operator) may introspect any token
      introspection: {
        enabled: true,
        // a deleted client's tokens are inactive (oidc-provider would also fail on the missing client)
        allowedPolicy: async (ctx, client, token) =>
          mayIntrospect(client, token.clientId!) && (token.clientId === client.clientId || Boolean(await ctx.oidc.provider.Client.find(token.clientId!))),
      },
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      // a client registered with userinfo_signed_response_alg gets its UserInfo as a signed JWT (OIDC Core §5.3.2)
      jwtUserinfo: { enabled: true },
      resourceIndicators: createResourceIndicators(deps.issuer, deps.resourceSigningAlgs) as unknown as NonNullable<Configuration['features']>['resourceIndicators'],
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.type = 'html';
          ctx.body = deps.views.render('logout.njk', {
            title: 'Sign out',
            form,
            clientName: (ctx as KoaContextWithOIDC).oidc.client?.clientName,
          });
        },
        async postLogoutSuccessSource(ctx) {
          ctx.type = 'html';
          ctx.body = deps.views.render('logged-out.njk', {
            title: 'Signed out',
            clientName: (ctx as KoaContextWithOIDC).oidc.client?.clientName,
          });
        },
      },
    },
    // refresh tokens whenever the client may use them (not only with offline_access), rotated on use
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && (code.scopes.has('openid') || code.scopes.has('offline_access')),
    rotateRefreshToken: true,
    interactions: {
      policy: deps.policy,
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    // first-party model: every registered client is trusted, consent is recorded without a prompt
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      if (!oidc.client || !oidc.session?.accountId) return undefined;
      const grantId = oidc.result?.consent?.grantId ?? oidc.session.grantIdFor(oidc.client.clientId);
      const grant =
        (grantId && (await oidc.provider.Grant.find(grantId))) ||
        new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
      if (grant.accountId !== oidc.session.accountId) return undefined;
      grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
      const claims = oidc.requestParamClaims ? [...oidc.requestParamClaims] : [];
      if (claims.length) grant.addOIDCClaims(claims);
      for (const [resource, server] of Object.entries(oidc.resourceServers ?? {})) {
        const requested = [...oidc.requestParamScopes].filter((s) => server.scopes.has(s));
        if (requested.length) grant.addResourceScope(resource, requested.join(' '));
      }
      await grant.save();
      return grant;
    },
    formats: {
      customizers: {
        // the JWT names its grant, so introspection can tell once the grant is revoked (jwt-introspection.ts);
        // the grant id is an opaque handle that grants nothing by itself
        jwt(_ctx, token, parts) {
          const grantId = 'grantId' in token ? token.grantId : undefined;
          if (grantId) parts.payload[GRANT_ID_CLAIM] = grantId;
        },
      },
    },
    // RFC 9470 §6 / SPEC §2.10: access tokens and introspection say how the user authenticated
    async extraTokenClaims(ctx, token) {
      if (!(token instanceof ctx.oidc.provider.AccessToken)) return undefined;
      const source = ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken;
      if (!source) return undefined;
      return { acr: source.acr, amr: source.amr, auth_time: source.authTime };
    },
    clientBasedCORS(ctx, origin, client) {
      // browsers may call userinfo, and public clients the token endpoint, only from their own origins
      if (origin === 'null') return false;
      if (ctx.oidc.route === 'userinfo' || client.clientAuthMethod === 'none') {
        return (client.redirectUris ?? []).some((uri) => URL.parse(uri)?.origin === origin);
      }
      return false;
    },
    ttl: { ...TTL },
    async renderError(ctx, out, error) {
      const { message, status } = describeProtocolError(out, error);
      const report = protocolErrorReport(ctx as unknown as Parameters<typeof protocolErrorReport>[0], out, deps.issuer);
      // the reference on the page (the request id) finds this line: the full error, never only "status 400"
      (ctx.state?.log as { warn(o: object, m: string): void } | undefined)?.warn(report.log, 'protocol error shown');
      ctx.status = status;
      if (status === 503) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
      ctx.type = 'html';
      ctx.body = deps.views.render('error.njk', {
        title: status === 503 ? 'Temporarily unavailable' : 'Something went wrong',
        message,
        code: out.error,
        requestId: ctx.state?.requestId,
        backUrl: report.backUrl,
        backName: report.backName,
      });
    },
    discovery: {
      prompt_values_supported: ['none', 'login'],
    },
  };

  const provider = new Provider(deps.issuer, configuration);
  provider.proxy = deps.trustProxy;
  // behind the proxy, X-Forwarded-For's leftmost entries are whatever the client sent: only the last one,
  // appended by our proxy, is the client's address (else a spoofed header would dodge per-IP rate limits)
  provider.maxIpsCount = 1;
  // redirected to the RP as error=temporarily_unavailable: tell it when to try again, too
  provider.on('authorization.error', (ctx, err) => {
    if (err instanceof StoreUnavailable) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
  });
  return provider;
}
