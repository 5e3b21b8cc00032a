# The engine's image: `engine` runs API + projector + reconciler + workers + store owner (npm start
# with TEMPORAL_ADDRESS set, so no dev server); `worker` runs extra job workers (STORE_OWNER=false).
FROM node:20-bookworm-slim
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary is reachable.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm install --omit=optional --no-audit --no-fund || npm install --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
ENV NODE_ENV=production DATA_DIR=/data HOST=0.0.0.0 PORT=3000
VOLUME ["/data"]
EXPOSE 3000
CMD ["npx", "tsx", "src/main.ts"]
