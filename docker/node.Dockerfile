# syntax=docker/dockerfile:1
# One image recipe for every Node service of the platform:
#   docker build -f docker/node.Dockerfile --build-arg SERVICE=gateway   -t nst/gateway .
#   docker build -f docker/node.Dockerfile --build-arg SERVICE=inference -t nst/inference .
#   docker build -f docker/node.Dockerfile --build-arg SERVICE=finetune  -t nst/finetune .
# Stage "deps" installs ONE service's production dependencies with `pnpm deploy`
# (workspace packages such as @nst/common are copied in, dev dependencies are left out): the
# gateway gets no ONNX runtime and no TF.js, inference no TF.js (tests/deploy/deploymentUnits).
# The final stage carries only that folder, runs as a non-root user and checks /health.

ARG NODE_IMAGE=node:20.20-bookworm-slim

FROM ${NODE_IMAGE} AS deps
ARG SERVICE
ARG PNPM_VERSION=12.4.2
ENV CI=true PNPM_HOME=/pnpm PATH=/pnpm:$PATH
RUN test -n "$SERVICE" || (echo "build with --build-arg SERVICE=gateway|inference|finetune" >&2; exit 1)
RUN npm install -g --no-fund --no-audit "pnpm@${PNPM_VERSION}"
WORKDIR /src
# Manifests first so the dependency layer is cached across source-only changes.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY services/common/package.json services/common/
COPY services/contracts/package.json services/contracts/
COPY services/network/package.json services/network/
COPY services/gateway/package.json services/gateway/
COPY services/inference/package.json services/inference/
COPY services/finetune/package.json services/finetune/
COPY frontend/package.json frontend/
RUN pnpm fetch --prod
COPY services/ services/
COPY scripts/models-pull.ts scripts/
# The seeding script imports the networks: it goes into the images that carry them.
RUN pnpm --filter "@nst/${SERVICE}" deploy --prod --prefer-offline /app \
 && if [ -d /app/node_modules/@nst/network ]; then mkdir -p /app/scripts && cp scripts/models-pull.ts /app/scripts/; fi
# The fine-tuning image trains with TensorFlow.js' native backend: @tensorflow/tfjs-node is an
# optional dependency of the fine-tuning package (lockfile version, deployed above). Its build
# script, which downloads libtensorflow, is off in pnpm-workspace.yaml (allowBuilds) so installs
# without internet pass; here it runs (this step needs internet). Where it did not, training
# falls back to wasm (NST_FINETUNE_BACKEND=auto).
RUN if [ "$SERVICE" = "finetune" ]; then \
      cd /app/node_modules/@tensorflow/tfjs-node && npm run install; \
    fi

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
# tsx is the TypeScript runtime the services start with (same version as the workspace's).
ARG TSX_VERSION=4.23.15
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="nst-${SERVICE}" \
      org.opencontainers.image.description="NST platform ${SERVICE} service" \
      org.opencontainers.image.source="https://example.invalid/nst-platform" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/node:20-bookworm-slim"
ENV NODE_ENV=production \
    NST_SERVICE=${SERVICE} \
    NST_HOST=0.0.0.0 \
    NST_STORAGE_DIR=/persistent_storage \
    NST_SERVE_FRONTEND=false
RUN npm install -g --no-fund --no-audit "tsx@${TSX_VERSION}" \
 && npm cache clean --force \
 && mkdir -p /persistent_storage \
 && chown node:node /persistent_storage
WORKDIR /app
COPY --from=deps --chown=root:root /app /app
# "node" (uid 1000) ships with the official image; numeric so runAsNonRoot can verify it.
USER 1000:1000
VOLUME ["/persistent_storage"]
# Liveness on the service's own port variable (inference sets NST_INFERENCE_PORT explicitly in containers).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const e=process.env,p=e.NST_GATEWAY_PORT||e.NST_INFERENCE_PORT||e.NST_FINETUNE_PORT||8000;fetch('http://127.0.0.1:'+p+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["tsx", "src/main.ts"]
