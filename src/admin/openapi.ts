import { z } from 'zod';
import { API_PREFIX, API_TAGS, VALIDATION_PROBLEM, type ApiRoute } from './api.routes.js';
import { problemOutput } from './schemas.js';

/**
 * The admin API's OpenAPI 3.1 document, generated from the route table and the zod schemas the routes
 * validate with (zod's JSON Schema output is draft 2020-12, OpenAPI 3.1's dialect).
 */
const schemaOf = (s: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

const problemContent = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };

export function openApiDocument(issuer: string, routes: ApiRoute[]): object {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const pathParams = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    const parameters: object[] = pathParams.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
    if (route.query) {
      const q = schemaOf(route.query, 'input') as { properties?: Record<string, object>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        parameters.push({ name, in: 'query', required: (q.required ?? []).includes(name) && !('default' in schema), schema });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      const content: Record<string, unknown> = {};
      if (spec.schema) content['application/json'] = { schema: schemaOf(spec.schema, 'output') };
      if (spec.csv) content['text/csv'] = { schema: { type: 'string' } };
      if (!spec.schema && Number(status) >= 400) Object.assign(content, problemContent);
      responses[status] = { description: spec.description, ...(Object.keys(content).length ? { content } : {}) };
    }
    if (route.query || route.body) responses['400'] ??= { description: `Validation error (RFC 9457, type ${VALIDATION_PROBLEM})`, content: problemContent };
    if (pathParams.length) responses['404'] ??= { description: 'No such user, factor or client', content: problemContent };
    responses['401'] = { description: 'No valid bearer access token', content: problemContent };
    responses['403'] = { description: 'The token does not grant scope admin', content: problemContent };
    paths[route.path] ??= {};
    paths[route.path]![route.method] = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(route.body, 'input') } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'stepup admin API',
      version: '1',
      description:
        'Users, their factors and sessions, clients, the audit trail, the decision trace of each sign-in and the policy dry-run. Authenticate with a JWT access token with scope `admin`, ' +
        'obtained by an admin API client (`stepup client create --grant-type client_credentials --scope admin`) at the token endpoint ' +
        'with the client credentials grant. Every change is written to the audit trail with the client as actor.',
    },
    servers: [{ url: `${issuer}${API_PREFIX}` }],
    security: [{ bearer: ['admin'] }],
    tags: API_TAGS.map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'oauth2', flows: { clientCredentials: { tokenUrl: `${issuer}/token`, scopes: { admin: 'administer stepup' } } } },
      },
      schemas: { Problem: schemaOf(problemOutput, 'output') },
    },
  };
}
