import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';

/** Views are server-rendered with autoescaping on: every value is HTML-escaped unless a template says `| safe`. */
export function createViews(dir = resolveViewsDir()) {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(dir), { autoescape: true });
  return {
    dir,
    render(name: string, context: Record<string, unknown>): string {
      return env.render(name, context);
    },
  };
}

export type Views = ReturnType<typeof createViews>;

/** Works from src/ (tsx, Jest) and from dist/src (compiled): the first candidate holding layout.njk wins. */
function resolveViewsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', '..', 'views'), join(here, '..', '..', '..', 'views')];
  return candidates.find((c) => existsSync(join(c, 'layout.njk'))) ?? candidates[0]!;
}
