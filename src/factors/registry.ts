import type { FactorDeps } from './deps.js';
import type { EnrollmentRegistry, FactorRegistry } from './factor.js';
import { passwordFactor } from './password/password.factor.js';
import { recoveryCodeFactor } from './recovery-codes/recovery-codes.factor.js';
import { totpEnrollment, totpFactor } from './totp/totp.factor.js';
import { webauthnEnrollment, webauthnFactor } from './webauthn/webauthn.factor.js';

/**
 * Every factor kind (stepup/factor-kinds.ts) and every enrollment choice, once. The return types are
 * the mapped types over those lists: a kind or choice without its entry does not compile.
 */
export function createFactorRegistry(deps: FactorDeps): FactorRegistry {
  return {
    password: passwordFactor(deps),
    totp: totpFactor(deps),
    webauthn: webauthnFactor(deps),
    recovery_code: recoveryCodeFactor(deps),
  };
}

export function createEnrollmentRegistry(deps: FactorDeps): EnrollmentRegistry {
  return {
    passkey: webauthnEnrollment(deps, 'passkey'),
    security_key: webauthnEnrollment(deps, 'security_key'),
    totp: totpEnrollment(deps),
  };
}
