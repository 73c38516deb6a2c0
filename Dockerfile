# One image for the three services; docker-compose.yml picks each one's command.
# Node runs the TypeScript directly (type stripping): there is no build step, only the
# production dependencies to install.

# devkit/ (development and test tools) is left out: npm ci skips a workspace whose folder is
# absent, so neither it nor its dependencies (an SMTP server, a MIME parser) reach the image.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY proto/package.json proto/
COPY proto/client/package.json proto/client/
COPY platform/package.json platform/
COPY persistence/package.json persistence/
COPY mailer/package.json mailer/
COPY gateway/package.json gateway/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
# A bounded V8 heap: without it V8 lets garbage pile up toward a share of the machine's memory
# before collecting (300+ MB per service under load). 128 MB of old space leaves room for the
# gateway's in-flight cap; bench/README.md has the measurements. npm run bench uses these flags.
ENV NODE_ENV=production \
    EMAILAUTH_MODE=production \
    NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=8"
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY proto ./proto
COPY platform ./platform
COPY persistence ./persistence
COPY mailer ./mailer
COPY gateway ./gateway
# The image's own unprivileged user; nothing in /app is writable by it.
USER node
STOPSIGNAL SIGTERM
CMD ["node", "gateway/src/main.ts"]
