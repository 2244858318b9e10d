import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import Provider, { interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { TTL } from '../src/oidc/provider.js';
import { BENCH_API_RESOURCE, BENCH_API_SCOPE, type BareServerConfig } from './shared.js';

/**
 * The ceiling: a bare oidc-provider with its in-memory adapter, the same clients, signing keys,
 * algorithms (ES256 ID tokens and JWT access tokens), claims, TTLs and enabled features as stepup,
 * and an interaction that checks nothing. It answers the same forms (`/interaction/<uid>/password`,
 * then `/totp`) so the very same driver runs against both servers; what stepup adds on top (argon2id,
 * TOTP, the step-up policy, Redis, Postgres, audit, CSRF, rate limits) is the difference measured.
 *
 * Run as a child process by bench/run.ts (`BENCH_BARE_CONFIG` names a JSON file with keys and clients).
 */
const config = JSON.parse(readFileSync(process.env.BENCH_BARE_CONFIG!, 'utf8')) as BareServerConfig;
const port = Number(process.env.PORT);
const issuer = `http://localhost:${port}`;

const policy = interactionPolicy.base();
// the minimum a step-up needs: a session below the requested acr is sent to the interaction
policy.get('login')!.checks.add(
  new interactionPolicy.Check('acr_below_requested', 'requested acr is above the session acr', 'login_required', (ctx: KoaContextWithOIDC) => {
    const wanted = String(ctx.oidc.params?.acr_values ?? '');
    if (!ctx.oidc.session?.accountId || !wanted.includes('aal2')) return false;
    return ctx.oidc.session.acr !== 'aal2' && !(ctx.oidc.result?.login as { acr?: string } | undefined)?.acr?.includes('aal2');
  }),
);

const configuration: Configuration = {
  clients: config.clients as Configuration['clients'],
  jwks: config.jwks as Configuration['jwks'],
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub, email: sub }) }),
  cookies: { keys: [config.cookieKey], long: { httpOnly: true, sameSite: 'lax' }, short: { httpOnly: true, sameSite: 'lax' } },
  acrValues: config.acrValues,
  claims: { openid: ['sub', 'acr', 'amr', 'auth_time'], acr: null, amr: null, auth_time: null, sid: null, email: ['email'], profile: ['name'] },
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  clientDefaults: {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
  },
  responseTypes: ['code', 'none'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    claimsParameter: { enabled: true },
    introspection: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
    revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
    clientCredentials: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined as unknown as string,
      useGrantedResource: () => true,
      getResourceServerInfo: async (_ctx, resource) => {
        if (resource !== BENCH_API_RESOURCE) throw new Error('unknown resource');
        return { scope: BENCH_API_SCOPE, audience: resource, accessTokenTTL: TTL.AccessToken, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
      },
    },
    rpInitiatedLogout: { enabled: true },
  },
  issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('openid'),
  rotateRefreshToken: true,
  interactions: { policy, url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  // first-party clients, as in stepup: consent recorded without a prompt
  async loadExistingGrant(ctx) {
    const { oidc } = ctx;
    if (!oidc.client || !oidc.session?.accountId) return undefined;
    const grantId = oidc.session.grantIdFor(oidc.client.clientId);
    const grant = (grantId && (await oidc.provider.Grant.find(grantId))) || new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
    grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
    await grant.save();
    return grant;
  },
  async extraTokenClaims(ctx, token) {
    if (!(token instanceof ctx.oidc.provider.AccessToken)) return undefined;
    const source = ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken;
    return source ? { acr: source.acr, amr: source.amr, auth_time: source.authTime } : undefined;
  },
  ttl: { ...TTL },
};

const provider = new Provider(issuer, configuration);

const page = (action: string, fields: string) =>
  `<!doctype html><form method="post" action="${action}">${fields}<button type="submit">Continue</button></form>`;

async function readForm(req: import('node:http').IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

// the interaction: a password form, then a code form when aal2 is asked; neither input is checked
provider.use(async (ctx, next) => {
  const m = /^\/interaction\/([\w-]+)(?:\/(password|totp))?$/.exec(ctx.path);
  if (!m) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const wantsAal2 = String(details.params.acr_values ?? '').includes('aal2');
  const finish = async (accountId: string, acr: string, amr: string[]) => {
    ctx.status = 303;
    ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, { login: { accountId, acr, amr, remember: true } }, { mergeWithLastSubmission: false }));
  };
  const totpForm = () => page(`/interaction/${details.uid}/totp`, '<input name="code" inputmode="numeric">');
  ctx.type = 'html';
  if (ctx.method === 'GET' && !m[2]) {
    ctx.body = details.session?.accountId ? totpForm() : page(`/interaction/${details.uid}/password`, '<input name="email"><input name="password" type="password">');
    return;
  }
  const form = await readForm(ctx.req);
  if (m[2] === 'password') {
    const email = form.get('email') ?? 'nobody';
    if (!wantsAal2) return finish(email, 'aal1', ['pwd']);
    // the account is carried in the interaction's last submission, like stepup's progress record
    await provider.interactionResult(ctx.req, ctx.res, { pending: { accountId: email } });
    ctx.body = totpForm();
    return;
  }
  const accountId = (details.result?.pending as { accountId?: string } | undefined)?.accountId ?? details.session?.accountId ?? 'nobody';
  return finish(accountId, 'aal2', ['pwd', 'otp', 'mfa']);
});

const server = createServer(provider.callback());
server.keepAliveTimeout = 5_000;
server.listen(port, '127.0.0.1');
process.once('SIGTERM', () => server.close(() => process.exit(0)));
