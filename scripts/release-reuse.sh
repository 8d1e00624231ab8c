#!/usr/bin/env bash
# release.yml, step "Already pushed?": makes a re-run of the release for one commit idempotent.
# The ECR repository is IMMUTABLE (infra/components/registry.ts): a tag, once pushed, never moves, and
# a second build of the same commit has another digest (timestamps, provenance), so pushing its tags
# again fails. Instead, when a repository already holds COMMIT_TAG (sha-<commit>), its image is
# reused: copied by digest (the same bytes, so the same digest) under every tag to each repository
# that lacks it, and its digest is printed for the promotion. When none holds it, digest is empty
# and the build runs. Two repositories holding different images under COMMIT_TAG is an error.
#
# Environment: IMAGES (one repository per line), TAGS (one full reference per line, the
# docker/metadata-action output), COMMIT_TAG, GITHUB_OUTPUT.
set -euo pipefail

# The index digest of <repository>:<tag>, or a non-zero exit when the registry has no such tag.
digest_of() {
  local manifest
  manifest=$(docker buildx imagetools inspect "$1" --format '{{json .Manifest}}' 2>/dev/null) || return 1
  node -e 'const d = JSON.parse(process.argv[1]).digest; if (!/^sha256:[0-9a-f]{64}$/.test(d ?? "")) process.exit(1); console.log(d)' "$manifest"
}

source_repo=""
digest=""
while read -r repo; do
  [ -n "$repo" ] || continue
  if found=$(digest_of "$repo:$COMMIT_TAG"); then
    source_repo=$repo
    digest=$found
    break
  fi
done <<<"$IMAGES"

if [ -z "$digest" ]; then
  echo "digest=" >>"$GITHUB_OUTPUT"
  echo "release-reuse: no repository holds $COMMIT_TAG yet: building"
  exit 0
fi

while read -r repo; do
  [ -n "$repo" ] && [ "$repo" != "$source_repo" ] || continue
  if have=$(digest_of "$repo:$COMMIT_TAG"); then
    if [ "$have" != "$digest" ]; then
      echo "::error::$repo:$COMMIT_TAG is $have but $source_repo:$COMMIT_TAG is $digest: one commit, two images"
      exit 1
    fi
    continue
  fi
  tags=()
  while read -r ref; do
    if [[ "$ref" == "$repo:"* ]]; then tags+=(--tag "$ref"); fi
  done <<<"$TAGS"
  if [ "${#tags[@]}" -eq 0 ]; then
    echo "::error::no tag for $repo in the metadata-action output"
    exit 1
  fi
  docker buildx imagetools create "${tags[@]}" "$source_repo@$digest"
  echo "release-reuse: copied $source_repo@$digest to $repo"
done <<<"$IMAGES"

echo "digest=$digest" >>"$GITHUB_OUTPUT"
echo "release-reuse: $COMMIT_TAG was pushed before ($digest): reusing it, no build"
