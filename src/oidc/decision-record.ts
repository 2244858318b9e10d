import { randomBytes } from 'node:crypto';
import { authenticatorModel } from '../factors/webauthn/authenticator-models.js';
import type { AuthorizationInputs, EnrolledFactor, FactorEvent, StepTrace, Trace } from '../stepup/index.js';

/**
 * Issue #19: what a `stepup.decision` audit event keeps, so the admin can answer "why did my user get
 * aal1?" from the audit trail alone. The heart is the explain() Trace of the decision (the structure the
 * dry-run answers with), made bounded: the claims parameter shrinks to its `id_token.acr` request (the
 * only member a decision reads), lists are capped, and the audit repository cuts every string to 512
 * characters. Nothing secret is in it: factor ids, labels and AAGUIDs, never a code, key or hash.
 *
 * `signIn` groups the decisions of one authorization request: the one at /auth and the one at the
 * resume after the interaction. Other fields may be added beside these (issue #16 adds `signals`).
 */
export const DECISION_RECORD_VERSION = 1;

/** The factors an enrolled list or a session keeps are few; a cap keeps one audit row small whatever happens. */
const MAX_LISTED = 20;
const MAX_ACR_VALUES = 10;
const MAX_ACR_LENGTH = 100;

/** A sign-in id: URL-safe, so it can be a path segment of the admin's trace page. */
export const newSignInId = (): string => randomBytes(12).toString('base64url');
export const SIGN_IN_ID = /^[A-Za-z0-9_-]{8,64}$/;

/** A factor the sign-in verified, named as the admin knows it. */
export interface FactorUsed {
  factor: string;
  credentialId?: string;
  /** the label the user gave it ("Phone", "Laptop passkey") */
  label?: string;
  /** WebAuthn: the authenticator's model, from its AAGUID where known */
  model?: string;
  aaguid?: string;
  at: number;
  amr: string[];
}

export interface DecisionRecord {
  v: number;
  signIn: string;
  /** the decision at the resume after an interaction (its factors are `factorsUsed`) */
  resumed: boolean;
  /** kept from before issue #19 (the audit line and older readers use them) */
  inputs: AuthorizationInputs;
  requested: string[];
  held: string[];
  target?: string;
  trace: Trace;
  /** at the resume: what the interaction asked for (its steps towards the target it started with) */
  stepsAsked?: StepTrace[];
  factorsUsed?: FactorUsed[];
}

const cut = (s: string, n = MAX_ACR_LENGTH) => s.slice(0, n);

/** The claims parameter's `id_token.acr` request only (object or JSON string); anything else is not kept. */
function acrClaim(claims: unknown): { id_token: { acr: Record<string, unknown> } } | undefined {
  let parsed = claims;
  if (typeof claims === 'string') {
    try {
      parsed = JSON.parse(claims);
    } catch {
      return undefined;
    }
  }
  const idToken = isObject(parsed) && Object.hasOwn(parsed, 'id_token') ? parsed.id_token : undefined;
  const acr = isObject(idToken) && Object.hasOwn(idToken, 'acr') ? idToken.acr : undefined;
  if (!isObject(acr)) return undefined;
  const kept: Record<string, unknown> = {};
  if (typeof acr.essential === 'boolean') kept.essential = acr.essential;
  if (typeof acr.value === 'string') kept.value = cut(acr.value);
  if (Array.isArray(acr.values)) kept.values = acr.values.filter((v): v is string => typeof v === 'string').slice(0, MAX_ACR_VALUES).map((v) => cut(v));
  return { id_token: { acr: kept } };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The request as a decision reads it, bounded for the audit trail. */
export function compactRequest(request: AuthorizationInputs): AuthorizationInputs {
  const claims = acrClaim(request.claims);
  return {
    ...(typeof request.acrValues === 'string' ? { acrValues: request.acrValues } : {}),
    ...(claims ? { claims } : {}),
    ...(request.maxAge !== undefined ? { maxAge: request.maxAge } : {}),
    ...(typeof request.prompt === 'string' ? { prompt: request.prompt } : {}),
  };
}

/** A trace bounded for storage: the compact request, capped lists, enrolled factors as kind and id. */
export function compactTrace(trace: Trace): Trace {
  return {
    ...trace,
    inputs: {
      ...trace.inputs,
      request: compactRequest(trace.inputs.request),
      client: {
        ...(trace.inputs.client.defaultAcrValues ? { defaultAcrValues: trace.inputs.client.defaultAcrValues.slice(0, MAX_ACR_VALUES) } : {}),
        ...(trace.inputs.client.minimumAcr ? { minimumAcr: trace.inputs.client.minimumAcr } : {}),
      },
      sessionEvents: trace.inputs.sessionEvents.slice(-MAX_LISTED),
      enrolled: trace.inputs.enrolled.slice(0, MAX_LISTED).map((f) => ({ factor: f.factor, credentialId: f.credentialId })),
      demands: trace.inputs.demands.slice(0, MAX_LISTED),
    },
  };
}

/** The interaction's verifications, named by the enrolled factor they used (label, model). */
export function factorsUsed(events: readonly FactorEvent[], enrolled: readonly EnrolledFactor[]): FactorUsed[] {
  return events.slice(-MAX_LISTED).map((e) => {
    const known = e.credentialId ? enrolled.find((f) => f.credentialId === e.credentialId) : undefined;
    const model = authenticatorModel(known?.aaguid);
    return {
      factor: e.factor,
      ...(e.credentialId ? { credentialId: e.credentialId } : {}),
      ...(known?.label ? { label: known.label } : {}),
      ...(model ? { model } : {}),
      ...(known?.aaguid ? { aaguid: known.aaguid } : {}),
      at: e.at,
      amr: e.amr,
    };
  });
}

/** The details of a `stepup.decision` audit event. */
export function decisionRecord(args: { signIn: string; resumed: boolean; trace: Trace; stepsAsked?: StepTrace[]; factorsUsed?: FactorUsed[] }): DecisionRecord {
  const trace = compactTrace(args.trace);
  return {
    v: DECISION_RECORD_VERSION,
    signIn: args.signIn,
    resumed: args.resumed,
    inputs: trace.inputs.request,
    requested: trace.requirement.requested,
    held: trace.held.filter((h) => h.held).map((h) => h.acr),
    ...(trace.target ? { target: trace.target.acr } : {}),
    trace,
    ...(args.stepsAsked ? { stepsAsked: args.stepsAsked } : {}),
    ...(args.factorsUsed ? { factorsUsed: args.factorsUsed } : {}),
  };
}
