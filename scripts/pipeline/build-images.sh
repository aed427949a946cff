#!/usr/bin/env bash
# Builds every NST image from docker/ and pushes it, tagged with the commit (NST_App pipeline).
#   REGISTRY=registry.example.com/nst IMAGE_TAG=<commit> scripts/pipeline/build-images.sh [--no-push]
# Registry credentials come from REGISTRY_USER / REGISTRY_PASSWORD (Jenkins credentials), never from the repo.
set -euo pipefail
cd "$(dirname "$0")/../.."

REGISTRY="${REGISTRY:?set REGISTRY, e.g. registry.example.com/nst}"
IMAGE_TAG="${IMAGE_TAG:-$(git rev-parse --short=12 HEAD)}"
PUSH=1
if [ "${1:-}" = "--no-push" ]; then PUSH=0; fi
DOCKER="${DOCKER:-docker}"
CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"

if [ "$PUSH" -eq 1 ] && [ -n "${REGISTRY_USER:-}" ]; then
  printf '%s' "${REGISTRY_PASSWORD:?REGISTRY_PASSWORD is needed with REGISTRY_USER}" \
    | "$DOCKER" login --username "$REGISTRY_USER" --password-stdin "${REGISTRY%%/*}"
fi

build() {
  local name="$1" dockerfile="$2"
  shift 2
  local image="$REGISTRY/$name:$IMAGE_TAG"
  echo "build-images: $image"
  "$DOCKER" build --file "$dockerfile" \
    --build-arg "VERSION=$IMAGE_TAG" --build-arg "REVISION=$REVISION" --build-arg "CREATED=$CREATED" \
    "$@" --tag "$image" .
  if [ "$PUSH" -eq 1 ]; then "$DOCKER" push "$image"; fi
}

for service in gateway inference finetune; do
  build "$service" docker/node.Dockerfile --build-arg "SERVICE=$service"
done
build frontend docker/frontend.Dockerfile
echo "build-images: done ($IMAGE_TAG)"
