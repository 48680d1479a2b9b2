#!/usr/bin/env bash
# Make sure a Debian bookworm base image exists for the builds: pull the slim one, or, where no
# image registry answers, build an equivalent minimal one from Debian's archive with debootstrap.
# Prints the image name to use on stdout; progress goes to stderr.
set -euo pipefail

official="debian:bookworm-slim"
local_image="ledgerline-local/debian:bookworm"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$official" >/dev/null 2>&1; then
    echo "$official"
    exit 0
fi
if docker image inspect "$local_image" >/dev/null 2>&1; then
    echo "$local_image"
    exit 0
fi
echo "base image: pulling $official" >&2
if timeout 120 docker pull --quiet "$official" >/dev/null 2>&1; then
    echo "$official"
    exit 0
fi
if ! command -v debootstrap >/dev/null; then
    echo "base image: no registry answers and debootstrap is missing (apt-get install debootstrap)" >&2
    exit 1
fi
echo "base image: no registry answers; building $local_image with debootstrap from $mirror" >&2
rootfs="$(mktemp -d /var/tmp/ledgerline-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
chmod 755 "$rootfs" # it becomes the image's /: mktemp's 0700 would lock every other user out
log=/tmp/ledgerline-debootstrap.log
if ! debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" >"$log" 2>&1; then
    echo "base image: debootstrap failed; see $log" >&2
    exit 1
fi
# As small as the slim image: no documentation, no package lists, no caches.
rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s-security bookworm-security main\n' \
    "$mirror" "$mirror" "$mirror" >"$rootfs/etc/apt/sources.list"
tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$local_image" >/dev/null
echo "$local_image"
