# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the dev dependencies.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

# Runtime stage: production dependencies only, non-root user.
FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# the common-passwords list read beside the compiled password module (tsc copies only .ts output)
COPY src/factors/password/common-passwords.txt ./dist/src/factors/password/
COPY views ./views
USER node
EXPOSE 3000
# the management interface (/metrics) listens on 9000 at 127.0.0.1, inside the container only, unless
# MANAGEMENT_HOST=0.0.0.0 is set (docker-compose.yml does, and publishes it on the host's loopback)
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:3000/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# migrations run on start; `docker compose run stepup node dist/src/cli/main.js …` runs the CLI.
# --max-semi-space-size=8: V8's young generation capped at 2 × 8 MiB, about 8-10 MiB less idle memory
# for about 2 % more CPU in garbage collection (README, Benchmarks); the bench starts stepup with the
# same flags (bench/shared.ts)
CMD ["node", "--max-semi-space-size=8", "dist/src/cli/main.js", "serve"]
