import { levelOf, type LevelDefinition, type Policy } from './levels.js';

/**
 * SPEC §2 inputs → what the request asks for. Pure: the protocol layer has already validated the
 * request (a malformed `claims` parameter never reaches a decision), so anything odd here is ignored
 * rather than thrown.
 */

/** An authorization request's inputs (SPEC §2) as oidc-provider hands them over. */
export interface AuthorizationInputs {
  /** space-separated, in order of preference */
  acrValues?: string;
  /** the claims parameter, as an object or its JSON string */
  claims?: unknown;
  /** seconds */
  maxAge?: number;
  /** space-separated */
  prompt?: string;
}

/** The client's registered acr settings: `default_acr_values` and stepup's `minimum_acr` (SPEC §2). */
export interface ClientAcrSettings {
  defaultAcrValues?: string[];
  minimumAcr?: string;
}

/** Why a request can never be met, whatever the user does (SPEC §2 rule 4). */
export type RequirementUnmetReason =
  /** an essential acr (claims parameter) names only values the policy does not know */
  | 'essential_acr_unknown'
  /** the client's minimum_acr is not a level of the policy: it cannot be enforced, so nothing is issued */
  | 'client_minimum_acr_unknown';

/** Where `requested` came from, for logs and audit. */
export type RequirementSource = 'claims_essential' | 'acr_values' | 'claims' | 'client_default' | 'client_minimum' | 'none';

export interface Requirement {
  /** known acr values in order of preference, after the client minimum (rule 1); empty: no acr asked (rule 5) */
  requested: string[];
  /** from an essential `acr` in the claims parameter */
  essential: boolean;
  /** max_age in seconds, when > 0 (rule 6); max_age=0 is expressed as `freshLogin` */
  maxAge?: number;
  /** prompt=login or max_age=0 (rule 6): a full fresh authentication at the target */
  freshLogin: boolean;
  /** set when the request can never be met (rule 4) */
  unmetReason?: RequirementUnmetReason;
  source: RequirementSource;
}

export function parseRequirement(policy: Policy, inputs: AuthorizationInputs, client: ClientAcrSettings): Requirement {
  const freshness = parseFreshness(inputs);

  // Rule 1: the client's minimum is enforced server-side. One the policy does not know cannot be
  // enforced: fail closed (the RP gets unmet_authentication_requirements) rather than silently drop it.
  const minimum = client.minimumAcr ? levelOf(policy, client.minimumAcr) : undefined;
  if (client.minimumAcr && !minimum) return { requested: [], essential: false, ...freshness, unmetReason: 'client_minimum_acr_unknown', source: 'none' };

  const asked = askedAcrValues(inputs, client);
  const known = unique(asked.values)
    .map((acr) => levelOf(policy, acr))
    .filter((level): level is LevelDefinition => level !== undefined);

  // Rule 4: an essential acr naming only unknown values can never be met
  if (asked.essential && known.length === 0) return { requested: [], essential: true, ...freshness, unmetReason: 'essential_acr_unknown', source: asked.source };

  // Rule 1: unknown values are ignored (OIDC Core §3.1.2.1: acr_values is voluntary); values below the
  // client's minimum are dropped (a request cannot lower it); if nothing remains, the minimum is the
  // target; with no minimum, the request proceeds as if no acr were asked (rule 5).
  const requested = known.filter((level) => !minimum || level.rank >= minimum.rank).map((level) => level.acr);
  if (requested.length > 0) return { requested, essential: asked.essential, ...freshness, source: asked.source };
  if (minimum) return { requested: [minimum.acr], essential: asked.essential, ...freshness, source: 'client_minimum' };
  return { requested: [], essential: false, ...freshness, source: 'none' };
}

/** Rule 6: `max_age=0` equals `prompt=login`; both become `freshLogin`, and only a positive max_age remains a max age. */
function parseFreshness(inputs: AuthorizationInputs): { freshLogin: boolean; maxAge?: number } {
  // a negative or non-numeric max_age is refused by the protocol layer; here it is simply not a max age
  const maxAge = typeof inputs.maxAge === 'number' && Number.isFinite(inputs.maxAge) && inputs.maxAge >= 0 ? Math.floor(inputs.maxAge) : undefined;
  const freshLogin = spaceSeparated(inputs.prompt).includes('login') || maxAge === 0;
  return maxAge !== undefined && maxAge > 0 ? { freshLogin, maxAge } : { freshLogin };
}

interface AskedAcr {
  values: string[];
  essential: boolean;
  source: RequirementSource;
}

/** Which acr values the request (or, failing that, the client registration) asks for, before filtering. */
function askedAcrValues(inputs: AuthorizationInputs, client: ClientAcrSettings): AskedAcr {
  const claim = acrClaimRequest(inputs.claims);
  // OIDC Core §5.5.1: `values` lists acceptable values in order of preference, `value` names one
  const claimValues = claim ? claimedValues(claim) : [];

  // Rule 4 / OIDC Core §5.5.1.1: an essential acr claim takes precedence; acr_values cannot cancel it
  if (claim?.essential === true && claimValues.length > 0) return { values: claimValues, essential: true, source: 'claims_essential' };

  const acrValues = spaceSeparated(inputs.acrValues);
  if (acrValues.length > 0) return { values: acrValues, essential: false, source: 'acr_values' };

  // a voluntary acr claim is a preference, exactly like acr_values
  if (claimValues.length > 0) return { values: claimValues, essential: false, source: 'claims' };

  // Rule 1: when the request names no acr, the client's registered default_acr_values
  const defaults = (client.defaultAcrValues ?? []).filter((v): v is string => typeof v === 'string');
  if (defaults.length > 0) return { values: defaults, essential: false, source: 'client_default' };

  return { values: [], essential: false, source: 'none' };
}

interface AcrClaimRequest {
  essential?: unknown;
  value?: unknown;
  values?: unknown;
}

/** `claims.id_token.acr` from the claims parameter (object or JSON string); anything else: none. */
function acrClaimRequest(claims: unknown): AcrClaimRequest | undefined {
  let parsed: unknown = claims;
  if (typeof claims === 'string') {
    try {
      parsed = JSON.parse(claims);
    } catch {
      return undefined; // the protocol layer rejects malformed claims before we get here
    }
  }
  const acr = own(own(parsed, 'id_token'), 'acr');
  return isObject(acr) ? acr : undefined;
}

function claimedValues(claim: AcrClaimRequest): string[] {
  if (Array.isArray(claim.values)) {
    const values = claim.values.filter((v): v is string => typeof v === 'string' && v.length > 0);
    if (values.length > 0) return values;
  }
  return typeof claim.value === 'string' && claim.value.length > 0 ? [claim.value] : [];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An object's own property (never one inherited from a prototype). */
const own = (v: unknown, key: string): unknown => (isObject(v) && Object.hasOwn(v, key) ? v[key] : undefined);

const spaceSeparated = (list: string | undefined): string[] => (typeof list === 'string' ? list.split(/\s+/).filter(Boolean) : []);

const unique = (values: string[]): string[] => [...new Set(values)];

/**
 * Issue #14 / OIDC Core §5.5.1: the shape of an `acr` claim request in the claims parameter, checked
 * before anything is decided. A malformed one (a `values` that is not an array of strings, a `value`
 * that is not a string, an `essential` that is not a boolean, an `acr` member that is neither null
 * nor an object) is refused as `invalid_request` rather than read leniently: read leniently, an
 * essential `acr` would silently become no requirement at all, and the session's level be issued.
 * Members this rule does not know are ignored, as §5.5.1 requires. Returns why the request is
 * malformed, or undefined when it is well-formed (or asks nothing about acr).
 */
export function acrClaimRequestProblem(claims: unknown): string | undefined {
  if (!isObject(claims)) return undefined; // the protocol layer checks the parameter's own shape
  for (const container of ['id_token', 'userinfo'] as const) {
    const members = own(claims, container);
    if (!isObject(members) || !Object.hasOwn(members, 'acr')) continue;
    const acr = members.acr;
    const where = `claims.${container}.acr`;
    if (acr === null) continue; // "requested in the default manner" (§5.5.1)
    if (!isObject(acr)) return `${where} must be null or an object`;
    if (Object.hasOwn(acr, 'essential') && typeof acr.essential !== 'boolean') return `${where}.essential must be a boolean`;
    const hasValue = Object.hasOwn(acr, 'value');
    const hasValues = Object.hasOwn(acr, 'values');
    if (hasValue && hasValues) return `${where} must use either value or values, not both`;
    if (hasValue && (typeof acr.value !== 'string' || acr.value.length === 0)) return `${where}.value must be a non-empty string`;
    if (hasValues && (!Array.isArray(acr.values) || acr.values.length === 0 || !acr.values.every((v) => typeof v === 'string' && v.length > 0))) {
      return `${where}.values must be a non-empty array of strings`;
    }
  }
  return undefined;
}
