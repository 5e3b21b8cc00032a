# The engine's image. `api` runs src/main.ts (with TEMPORAL_ADDRESS set, so no dev server is started
# and no temporal CLI is needed); `worker` runs src/worker/main.ts. TypeScript runs through tsx.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary can be fetched.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Dev dependencies stay: tsx runs the sources. The lockfile was made on Linux and may lack other
# platforms' optional entries, hence the fallback to npm install.
RUN npm ci --no-audit --no-fund || npm install --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production DATA_DIR=/data HOST=0.0.0.0 PORT=3000
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
CMD ["node", "--import", "tsx", "src/main.ts"]
