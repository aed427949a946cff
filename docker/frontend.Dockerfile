# syntax=docker/dockerfile:1
# The web UI: built with the workspace's esbuild, served by an unprivileged nginx that also
# proxies /api/ to the gateway (docker/nginx.conf).
#   docker build -f docker/frontend.Dockerfile -t nst/frontend .

ARG NODE_IMAGE=node:20.20-bookworm-slim
ARG NGINX_IMAGE=nginxinc/nginx-unprivileged:1.27-alpine

FROM ${NODE_IMAGE} AS build
ARG PNPM_VERSION=12.4.2
ENV CI=true
RUN npm install -g --no-fund --no-audit "pnpm@${PNPM_VERSION}"
WORKDIR /src
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY services/common/package.json services/common/
COPY services/contracts/package.json services/contracts/
COPY services/network/package.json services/network/
COPY services/gateway/package.json services/gateway/
COPY services/inference/package.json services/inference/
COPY services/finetune/package.json services/finetune/
COPY frontend/package.json frontend/
RUN pnpm install --frozen-lockfile
COPY . .
RUN pnpm build:frontend && test -f frontend/dist/index.html

FROM ${NGINX_IMAGE} AS runtime
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="nst-frontend" \
      org.opencontainers.image.description="NST platform web UI (nginx)" \
      org.opencontainers.image.source="https://example.invalid/nst-platform" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT"
COPY docker/nginx.conf /etc/nginx/conf.d/default.conf
COPY --from=build /src/frontend/dist /usr/share/nginx/html
# nginx-unprivileged runs as uid 101 and listens on 8080.
USER 101:101
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health"]
