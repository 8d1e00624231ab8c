# GoTicket service image.
#
#   deps       every dependency from the lock, no install scripts, on the build platform
#   build      tsc -> build/app (+ SQL migrations); plain JavaScript, platform-independent
#   prod-deps  production dependencies only (--omit=dev) on the target platform, so prebuilt
#              native binaries (@node-rs/bcrypt) match the image's architecture
#   runtime    Node slim pinned by exact version and multi-arch index digest, uid 10001,
#              exec-form entrypoint (no shell involved), read-only friendly: the process
#              writes nothing outside /tmp
#
# Both install stages run scripts/npm-install-locked.sh (npm ci): the lock holds every platform's
# optional packages, so the target platform's bcrypt binary comes from it; any lock mismatch fails the build.
#
# Build: make image   (docker buildx build --load -t ghcr.io/goticket-platform/goticket:local .)
# Run:   docker run --read-only --tmpfs /tmp -e DATABASE_URL=... -e JWT_SECRET=... ghcr.io/goticket-platform/goticket:local
#        roles: build/app/main.js api | worker | migrate | all
# Base image updates come from Dependabot (docker ecosystem); keep all three FROM lines equal.

FROM --platform=$BUILDPLATFORM node:24.11.1-bookworm-slim@sha256:48abc13a19400ca3985071e287bd405a1d99306770eb81d61202fb6b65cf0b57 AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/npm-install-locked.sh ./scripts/
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    bash scripts/npm-install-locked.sh --ignore-scripts

FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/copy-assets.js ./scripts/
COPY app/src ./app/src
RUN npm run build

FROM node:24.11.1-bookworm-slim@sha256:48abc13a19400ca3985071e287bd405a1d99306770eb81d61202fb6b65cf0b57 AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/npm-install-locked.sh ./scripts/
# The native bcrypt binary must exist for the image's platform: fail the build, not the first login.
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    bash scripts/npm-install-locked.sh --omit=dev --ignore-scripts \
 && node -e "require('@node-rs/bcrypt').hashSync('build check', 4)"

FROM node:24.11.1-bookworm-slim@sha256:48abc13a19400ca3985071e287bd405a1d99306770eb81d61202fb6b65cf0b57 AS runtime
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="goticket" \
      org.opencontainers.image.description="GoTicket ticketing service (api | worker | migrate | all)" \
      org.opencontainers.image.source="https://github.com/goticket-platform/goticket" \
      org.opencontainers.image.url="https://github.com/goticket-platform/goticket" \
      org.opencontainers.image.documentation="https://github.com/goticket-platform/goticket/blob/main/docs/onboarding.md" \
      org.opencontainers.image.vendor="GoTicket Platform" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="docker.io/library/node:24.11.1-bookworm-slim"
# The service never runs a package manager: drop npm, npx, corepack and yarn (attack surface, scanner noise).
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
ENV NODE_ENV=production \
    PORT=8080 \
    HOME=/tmp \
    TMPDIR=/tmp
WORKDIR /app
# Owned by root and not writable by the service user: the application is immutable at runtime.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/build ./build
# The CA bundle DATABASE_URL's sslrootcert names (verify-full against RDS; platform/contract.ts RDS_CA_BUNDLE).
COPY app/certs ./app/certs
COPY package.json ./
# The gRPC edge loads the published protos at startup (app/src/grpc/protos.ts).
COPY proto ./proto
USER 10001:10001
EXPOSE 8080 9090
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node"]
CMD ["build/app/main.js", "api"]
