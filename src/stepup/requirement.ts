import { levelOf, type Policy } from './levels.js';

/** An authorization request's inputs (SPEC §2) as oidc-provider hands them over. */
export interface AuthorizationInputs {
  acrValues?: string;
  /** the claims parameter, as an object or its JSON string */
  claims?: unknown;
  maxAge?: number;
  /** space-separated */
  prompt?: string;
}

export interface ClientAcrSettings {
  defaultAcrValues?: string[];
  minimumAcr?: string;
}

export interface Requirement {
  /** known acr values in order of preference, after the client minimum (rule 1); empty: no acr asked (rule 5) */
  requested: string[];
  /** from an essential `acr` in the claims parameter */
  essential: boolean;
  maxAge?: number;
  /** prompt=login or max_age=0 (rule 6) */
  freshLogin: boolean;
  /** set when the request can never be met, e.g. an essential acr naming only unknown values (rule 4) */
  unmetReason?: string;
}

interface AcrClaimRequest {
  essential?: unknown;
  value?: unknown;
  values?: unknown;
}

function acrClaimRequest(claims: unknown): AcrClaimRequest | undefined {
  let parsed = claims;
  if (typeof claims === 'string') {
    try {
      parsed = JSON.parse(claims);
    } catch {
      return undefined; // the protocol layer rejects malformed claims before we get here
    }
  }
  const acr = (parsed as { id_token?: { acr?: unknown } } | null)?.id_token?.acr;
  return acr && typeof acr === 'object' && !Array.isArray(acr) ? (acr as AcrClaimRequest) : undefined;
}

function requestedValues(req: AcrClaimRequest): string[] {
  if (Array.isArray(req.values)) return req.values.filter((v): v is string => typeof v === 'string');
  return typeof req.value === 'string' ? [req.value] : [];
}

export function parseRequirement(policy: Policy, inputs: AuthorizationInputs, client: ClientAcrSettings): Requirement {
  const known = (acr: string) => levelOf(policy, acr) !== undefined;
  const minimum = client.minimumAcr ? levelOf(policy, client.minimumAcr) : undefined;
  const maxAge = typeof inputs.maxAge === 'number' && Number.isInteger(inputs.maxAge) && inputs.maxAge >= 0 ? inputs.maxAge : undefined;
  const freshLogin = (inputs.prompt ?? '').split(' ').includes('login') || maxAge === 0;

  const fromAcrValues = (inputs.acrValues ?? '').split(/\s+/).filter(Boolean);
  let candidates = fromAcrValues.length ? fromAcrValues : (client.defaultAcrValues ?? []);
  let essential = false;

  // An essential acr claim outranks acr_values: acr_values cannot cancel it (issue #3 item 4)
  const claim = acrClaimRequest(inputs.claims);
  if (claim) {
    const values = requestedValues(claim);
    if (claim.essential === true && values.length > 0) {
      if (!values.some(known)) {
        return { requested: [], essential: true, maxAge, freshLogin, unmetReason: 'essential_acr_unknown' };
      }
      candidates = values;
      essential = true;
    } else if (values.length > 0 && fromAcrValues.length === 0) {
      candidates = values; // a voluntary claims acr behaves like acr_values
    }
  }

  // Rule 1: unknown values are ignored (OIDC Core §3.1.2.1: acr_values is voluntary); values below the minimum are dropped
  let requested = [...new Set(candidates)].filter(known);
  if (minimum) requested = requested.filter((acr) => levelOf(policy, acr)!.rank >= minimum.rank);
  if (requested.length === 0 && minimum) requested = [minimum.acr];
  return { requested, essential, maxAge, freshLogin };
}
