import type { Context } from 'koa';
import { koaBody } from 'koa-body';
import type { z } from 'zod';
import type { Csrf } from './csrf.js';
import type { Views } from './render.js';

/**
 * The small HTTP kit every people-facing route uses: one way to render a page, to redirect after a
 * POST, to read a form, and to answer a person with a readable error. Routes stay thin: they read,
 * call the domain, and answer through these.
 */
export interface PageKit {
  /** Renders `view` as the answer, with the form's CSRF token. */
  page(ctx: Context, view: string, context: Record<string, unknown>): void;
  /** A readable error page: a title, one sentence, the request id to quote, a stable code for tests and logs. */
  problem(ctx: Context, status: number, problem: PersonProblem): void;
}

export interface PersonProblem {
  title: string;
  message: string;
  /** stable snake_case code (shown as data-problem, logged) */
  code: string;
}

export function createPageKit(views: Views, csrf: Csrf): PageKit {
  const page = (ctx: Context, view: string, context: Record<string, unknown>) => {
    ctx.type = 'html';
    ctx.body = views.render(view, { csrf: csrf.token(ctx), ...context });
  };
  return {
    page,
    problem(ctx, status, { title, message, code }) {
      ctx.status = status;
      page(ctx, 'error.njk', { title, message, code, requestId: ctx.state.requestId });
    },
  };
}

/** Post/redirect/get: a refresh never re-submits a form. */
export function seeOther(ctx: Context, location: string): void {
  ctx.status = 303;
  ctx.redirect(location);
}

/** Parses url-encoded forms only (no JSON, no files), with a small size limit. */
export const formBody = (limit = '16kb') => koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: limit });

/** The posted form checked against `schema`; undefined when it does not fit (the caller answers). */
export function readForm<S extends z.ZodType>(ctx: Context, schema: S): z.infer<S> | undefined {
  const parsed = schema.safeParse((ctx.request as unknown as { body?: unknown }).body ?? {});
  return parsed.success ? parsed.data : undefined;
}
