# syntax=docker/dockerfile:1
# Sitrep: the bot and the built-in status page on one port, the SQLite database on a volume.
#   docker build -t sitrep .
#   docker run -p 3000:3000 -v sitrep-data:/data sitrep       (or: docker compose up)
# test/ship/dockerfile.test.ts checks this file against the repository.

# ---- build: every dependency (dev ones too), the native better-sqlite3 module, the TypeScript.
FROM node:20-bookworm-slim AS build
# node-gyp's toolchain, for when better-sqlite3 has no prebuilt binary for this platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Dependencies in a layer of their own, so that a source change does not reinstall them. Scripts
# wait ("prepare" compiles sources that are not copied yet); better-sqlite3's own build runs here.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3
COPY tsconfig.json ./
COPY src ./src
COPY adapters ./adapters
COPY db ./db
COPY bench ./bench
# Compile, then drop the dev dependencies: what is left in node_modules is what runs.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- run: production dependencies and the compiled JavaScript only, as an unprivileged user.
FROM node:20-bookworm-slim
# tini as PID 1: it forwards docker stop's SIGTERM to node and reaps what exits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PORT=3000 \
    SITREP_DB=/data/sitrep.db
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/adapters ./dist/adapters
COPY --from=build /app/dist/db ./dist/db
COPY --from=build /app/db/migrations ./db/migrations
COPY --from=build /app/db/migrations-pg ./db/migrations-pg
# The database lives on the volume; the image's /data is the node user's, so a new named volume
# (which starts as a copy of it) is writable. The code stays root's and read-only.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 3000
# /healthz answers 200 while the database answers. No curl in the slim image: node asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# On SIGTERM (docker stop) Sitrep stops taking requests and claiming deliveries, aborts the
# attempts in flight and records them for retry, closes the database and exits 0 (serve in
# src/main.ts). Were it killed before that, its deliveries in flight go back to pending when their
# lease expires, and the next start sends them.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
# The same command as `npm start` (package.json), without npm in between to swallow the signal.
CMD ["node", "dist/src/bin.js", "serve"]
