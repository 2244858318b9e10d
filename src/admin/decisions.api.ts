import type { z } from 'zod';
import { AdminError } from './admin-service.js';
import type { ApiRoute } from './api.routes.js';
import { listSignIns, type DecisionsDeps } from './decisions.js';
import { decisionsQuery, explainInput, explainOutput, signInPageOutput } from './decisions.schemas.js';
import { dryRun, DryRunError, type DryRunDeps } from './dry-run.js';

/**
 * Issue #19 in the admin API: a user's sign-ins with every decision's trace, and the policy dry-run,
 * which answers with the same trace structure and writes nothing (not even an audit event: it changes
 * nothing and reads only what the admin API already shows).
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function decisionApiRoutes(deps: DecisionsDeps & { dryRun: DryRunDeps; userExists(id: string): Promise<boolean> }): ApiRoute[] {
  return [
    {
      method: 'get',
      path: '/users/{userId}/decisions',
      operationId: 'listUserDecisions',
      summary: "A user's sign-ins, newest first, each with the trace of its step-up decisions (inputs, held levels, target and why, steps, factors used, outcome, issued acr/amr/auth_time); filter by client and outcome",
      tag: 'decisions',
      query: decisionsQuery,
      responses: { 200: { description: 'A page of sign-ins', schema: signInPageOutput } },
      async handle(ctx, { params, query }) {
        const id = params.userId!;
        if (!UUID.test(id) || !(await deps.userExists(id))) throw new AdminError(404, 'user not found');
        const q = query as z.output<typeof decisionsQuery>;
        ctx.body = await listSignIns(deps, id, { clientId: q.client_id, outcome: q.outcome, before: q.before, limit: q.limit });
      },
    },
    {
      method: 'post',
      path: '/policy/explain',
      operationId: 'explainPolicy',
      summary: "Dry-run: what a client's authorization request would get for a user (enrolled factors, a session holding the given events, at a time, under the configured or a given policy); writes nothing",
      tag: 'policy',
      body: explainInput,
      responses: { 200: { description: 'The trace of the decision', schema: explainOutput }, 404: { description: 'No such user or client' } },
      async handle(ctx, { body }) {
        const b = body as z.output<typeof explainInput>;
        try {
          ctx.body = await dryRun(deps.dryRun, {
            user: b.user,
            clientId: b.client_id,
            acrValues: b.acr_values,
            claims: b.claims,
            maxAge: b.max_age,
            prompt: b.prompt,
            at: b.at,
            session: b.session,
            policy: b.policy,
          });
        } catch (err) {
          if (!(err instanceof DryRunError)) throw err;
          throw err.status === 404 ? new AdminError(404, err.message) : new AdminError(400, 'The request body is not valid', [{ path: err.field, message: err.message }]);
        }
      },
    },
  ];
}
