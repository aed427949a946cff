#!/usr/bin/env bash
# Removes this build's images from the Jenkins agent (post step of NST_App). Never fails the build.
#   REGISTRY=registry.example.com/nst IMAGE_TAG=<commit> scripts/pipeline/cleanup-images.sh
set -uo pipefail
DOCKER="${DOCKER:-docker}"
: "${REGISTRY:?set REGISTRY}" "${IMAGE_TAG:?set IMAGE_TAG}"
for name in frontend gateway inference finetune; do
  "$DOCKER" image rm --force "$REGISTRY/$name:$IMAGE_TAG" >/dev/null 2>&1 || true
done
"$DOCKER" image prune --force --filter "label=org.opencontainers.image.title" >/dev/null 2>&1 || true
exit 0
