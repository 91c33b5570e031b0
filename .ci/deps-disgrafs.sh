#!/usr/bin/env bash
# What tests/disgrafs needs beyond pip, on a fresh Debian 12 machine, as root.
# Idempotent: installs only what is missing.
#   - Debian: chromium (the browser test drives /usr/bin/chromium), fonts,
#     nodejs (>= 20 for playwright-core), curl, espeak-ng (speech made by the
#     speech-tagging tests)
#   - npm: playwright-core for tests/disgrafs/browser, and the graph library
#     for disgrafs/web, whose build output (disgrafs/static/vendor) is checked
#     against the lock file
# With --bench it also installs nginx-light for `make bench-disgrafs`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
command -v curl >/dev/null || need+=(curl)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
if [ "${1:-}" = "--bench" ] && ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  need+=(nginx-light)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "==> [disgrafs] apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v npm >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "disgrafs: playwright-core needs Node.js >= 20, found $(node --version)" >&2
  exit 1
fi

# npm ci only when the lock file changed since the last install.
npm_ci() {
  local dir=$1 stamp=$1/node_modules/.disgrafs-lock.sha256
  local want; want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> [disgrafs] npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
}
npm_ci tests/disgrafs/browser
npm_ci disgrafs/web
node disgrafs/web/build.mjs --check
echo "==> [disgrafs] test dependencies ready (chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), node $(node --version))"
