import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { ISSUED_TOKENS, type Metrics } from './metrics.js';

/**
 * A second use of a single-use grant source: oidc-provider's "authorization code already consumed"
 * (lib/helpers/grant_source.js) and "refresh token already used" (lib/actions/grants/refresh_token.js),
 * and our Redis adapter's consume() losing the race (src/store/redis/oidc-adapter.ts). Each revokes the grant.
 */
const REPLAY_DETAIL = /already (consumed|used)/;

export function isReplayedGrant(err: unknown): boolean {
  const e = err as { error?: unknown; error_detail?: unknown } | null;
  return e?.error === 'invalid_grant' && typeof e.error_detail === 'string' && REPLAY_DETAIL.test(e.error_detail);
}

/** Tokens issued and replays detected (issue #17), from oidc-provider's events: nothing on the request path. */
export function watchProvider(provider: Provider, metrics: Pick<Metrics, 'tokenIssued' | 'replayDetected'>): void {
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const body = ctx.body as Record<string, unknown> | undefined;
    const tokens = ISSUED_TOKENS.filter((token) => typeof body?.[token] === 'string');
    // the acr the tokens carry: the code's or (refresh) the presented refresh token's; none for client credentials
    const entities = ctx.oidc.entities as { AuthorizationCode?: { acr?: string }; RefreshToken?: { acr?: string } };
    metrics.tokenIssued(ctx.oidc.params?.grant_type, entities.AuthorizationCode?.acr ?? entities.RefreshToken?.acr, tokens);
  });
  provider.on('grant.error', (ctx: KoaContextWithOIDC, err: unknown) => {
    if (isReplayedGrant(err)) metrics.replayDetected(ctx.oidc?.params?.grant_type);
  });
}
