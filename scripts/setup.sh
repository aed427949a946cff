#!/usr/bin/env bash
# Installs what running the platform needs on a Debian machine: pnpm (pinned) and the workspace's
# dependencies (sharp and onnxruntime-node bring their own binaries, so no system package).
#
#   scripts/setup.sh               what `pnpm start` and `pnpm test:unit` need (the quick start)
#   scripts/setup.sh --test-tools  also what the rest of `pnpm test` needs: Chromium for the
#                                  browser tests, the PostgreSQL server (the tests start
#                                  throw-away clusters on loopback) and, for the offline deployment checks in
#                                  tests/deploy, docker-compose, ansible, ansible-lint, groovy + a
#                                  JRE, shellcheck, and nginx and prometheus, which the tests run on
#                                  loopback with docker/nginx.conf and the scrape configuration
#                                  (kubectl, whose built-in kustomize renders the manifests, comes
#                                  with the machine image). CI (.ci/run) uses this.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=12.4.2
TEST_APT_PACKAGES=(chromium postgresql docker-compose ansible ansible-lint groovy default-jre-headless shellcheck nginx prometheus)

apt_packages=()
for arg in "$@"; do
  case "$arg" in
    --test-tools) apt_packages+=("${TEST_APT_PACKAGES[@]}") ;;
    -h | --help)
      sed -n '2,14p' "$0"
      exit 0
      ;;
    *)
      echo "setup: unknown option $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

missing=()
for p in "${apt_packages[@]}"; do
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
