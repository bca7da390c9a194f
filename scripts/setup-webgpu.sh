#!/usr/bin/env bash
# Installs a software Vulkan driver (Mesa 25 lavapipe from Debian bookworm-backports) so that the
# `webgpu` npm package (Dawn) finds an adapter on a machine without a GPU. Idempotent; needs root.
# Optional for users with a real GPU; .ci/run calls it.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-webgpu: needs root (apt-get); skipping" >&2
  exit 1
fi

icd_ok() {
  # lavapipe from Mesa >= 23 ships lvp_icd.x86_64.json; bookworm's own 22.3 is refused by Dawn.
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 24 && dpkg-query -W libvulkan1 >/dev/null 2>&1
}

if icd_ok; then
  echo "setup-webgpu: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) already installed"
  exit 0
fi

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ "$codename" != "bookworm" ]; then
  echo "setup-webgpu: this script targets Debian bookworm (found '$codename'); installing the distribution's mesa-vulkan-drivers" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers libvulkan1
  exit 0
fi

src=/etc/apt/sources.list.d/bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  # the machine's own Debian mirror (its bookworm entry), deb.debian.org when none is found
  mirror=$( { grep -hE '^deb +(\[[^]]*\] +)?[a-z]+://[^ ]+ +bookworm( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed -E 's/^deb +(\[[^]]*\] +)?//' | awk '{print $1}'
    awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)|: *bookworm( |$)/ {print u}' /etc/apt/sources.list.d/*.sources 2>/dev/null; } | head -n 1 || true)
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "${mirror:-http://deb.debian.org/debian}" > "$src"
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports \
  mesa-vulkan-drivers libvulkan1
echo "setup-webgpu: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
