# syntax=docker/dockerfile:1
# chartorigin controller image.
#   docker build -t chartorigin:dev --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
# The base is pinned to an exact Node 24 LTS release; pin it by digest too with
#   --build-arg NODE_IMAGE=node:24.21.0-bookworm-slim@sha256:<digest>
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# --- build: compile TypeScript to dist/ ---------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the only install script belongs to the `node` devDependency, which would download a
# second Node binary; the image's own Node 24 runs tsc.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle-cli.ts ./scripts/
RUN npm run build

# --- deps: production dependencies only (no typescript, no `node` package, no test tools) --------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# --- runtime --------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="chartorigin" \
      org.opencontainers.image.description="Where every installed Helm chart came from (HIP-0018), proven by content, and whether it is stale." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/chartorigin/chartorigin" \
      org.opencontainers.image.url="https://github.com/chartorigin/chartorigin" \
      org.opencontainers.image.documentation="https://github.com/chartorigin/chartorigin/blob/main/docs/operations.md" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
# npm, npx and corepack are never used at run time: fewer files, fewer CVEs to patch.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
WORKDIR /app
# The same V8 sizes as the chart's controller.nodeOptions (see there): a small young generation keeps the
# garbage of decoding releases from inflating resident memory. Two malloc arenas instead of glibc's 8 per
# core for Node's thread pool (gunzip, TLS): 10,000 releases settled at 175 MiB resident instead of 185
# (bench/RESULTS.md), at no measurable cost in time. Blocks of 64 KiB and more (socket reads, Buffer pool
# slabs, zlib output) from mmap, so that freeing them gives the memory back; glibc's default raises that
# threshold as the sync frees big blocks, which then stay in the heap: 10,000 releases settled at 136 instead
# of 152 MiB (median of 3 each, same sync time and CPU).
ENV NODE_ENV=production \
    HOME=/tmp \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=65536 \
    NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=384"
# Owned by root and not writable by the runtime user: the image works with a read-only root filesystem
# (only /tmp may be an emptyDir); nothing is written next to the code.
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist ./dist
COPY --chown=0:0 package.json ./
# Numeric, so that runAsNonRoot can verify it without a passwd entry (65532 is the usual "nonroot").
USER 65532:65532
EXPOSE 8080
# Exec form: node is PID 1 and gets SIGTERM directly (the controller releases its Lease on it); no shell.
ENTRYPOINT ["node", "dist/src/cli/entry.js"]
CMD ["controller"]
