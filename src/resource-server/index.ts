/** `stepup/resource-server`: protecting an API with stepup's access tokens and RFC 9470 step-up challenges. */
export { createResourceServer, ResourceServerConfigError } from './resource-server.js';
export type { CheckResult, KoaLikeContext, NodeLikeResponse, Requirement, RequestLike, ResourceServer, ResourceServerOptions } from './resource-server.js';
export { bearerChallenge, type BearerError, type ChallengeParams, type Refusal } from './challenge.js';
export { satisfiesAcr } from './levels.js';
export type { VerifiedToken } from './tokens.js';
