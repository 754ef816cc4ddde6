# The drctl image docker-compose.yml runs every engine service from: the TypeScript runs through
# tsx (a dependency), as `npx drctl` does from a clone; only the dashboard is built.
# The dashboard (web/ into web/dist) is built in a stage of its own, with the devDependencies
# (Vite, Preact, uPlot, dagre) that the running image does not need.
FROM node:20-slim AS web
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts/build-web.mjs ./scripts/
COPY web ./web
RUN node scripts/build-web.mjs

FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json ./
# prepare (scripts/build-web.mjs) finds no web/ here and builds nothing: the web stage did.
COPY scripts/build-web.mjs ./scripts/
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=web /app/web/dist ./web/dist
COPY tsconfig.json ./
COPY bin ./bin
COPY engine ./engine
COPY simulators ./simulators
COPY plans ./plans
# Logs as JSON lines on stderr, what `docker compose logs` collects.
ENV NODE_ENV=production LOG_FORMAT=json
# The vault's and the agents' folders (compose mounts volumes there): the node user's, 0700.
RUN mkdir -p /var/lib/drorch/vault /var/lib/drorch/agent && chown -R node:node /var/lib/drorch && chmod -R 0700 /var/lib/drorch
USER node
ENTRYPOINT ["node", "bin/drctl.js"]
