#!/usr/bin/env bash
# Installs what the platform and its tests need on a Debian machine: system packages
# (Chromium for the browser tests; the PostgreSQL server, of which the tests start throw-away
# clusters on loopback (tests/support/postgres.ts); for the offline deployment checks in tests/deploy:
# docker-compose, ansible, ansible-lint, groovy + a JRE, shellcheck, and nginx and prometheus,
# which the tests run on loopback with docker/nginx.conf and the scrape config — kubectl, whose built-in kustomize renders the
# manifests, comes with the machine image), pnpm (pinned), and the workspace's dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=12.4.2
APT_PACKAGES=(chromium postgresql docker-compose ansible ansible-lint groovy default-jre-headless shellcheck nginx prometheus)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else SUDO="none"; fi
  if [ "$SUDO" = "none" ]; then
    echo "setup: please install these Debian packages first: ${missing[*]}" >&2
  else
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm $PNPM_VERSION"
  npm install -g --no-fund --no-audit "pnpm@$PNPM_VERSION" >/dev/null
fi
pnpm install --frozen-lockfile
