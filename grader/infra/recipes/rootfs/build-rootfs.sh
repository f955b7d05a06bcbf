#!/bin/sh
# Make a slim Debian root filesystem tarball for `docker import`.
# Usage: build-rootfs.sh SUITE MIRROR WORK_DIR TARBALL   (as root: debootstrap chroots)
set -eu
suite=$1 mirror=$2 work_dir=$3 tarball=$4
here=$(dirname "$0")

rm -rf "$work_dir"
debootstrap --variant=minbase "$suite" "$work_dir" "$mirror"

# Every later `apt-get install` in a recipe skips docs, man pages and translations.
install -m 0644 "$here/dpkg-slim.cfg" "$work_dir/etc/dpkg/dpkg.cfg.d/dockerlab-slim"
install -m 0644 "$here/apt-lean.conf" "$work_dir/etc/apt/apt.conf.d/90dockerlab-lean"
# What the dpkg excludes would have skipped in the base system, plus caches and logs.
find "$work_dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$work_dir/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$work_dir"/usr/share/man/* "$work_dir"/usr/share/info/*
# Java packages register man pages with update-alternatives and fail if man1 is missing.
mkdir -p "$work_dir/usr/share/man/man1"
find "$work_dir/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
rm -rf "$work_dir"/var/cache/apt/* "$work_dir"/var/lib/apt/lists/*
find "$work_dir/var/log" -type f -delete

# /dev, /proc and /sys are provided by the engine at run time.
tar --numeric-owner --xattrs -C "$work_dir" \
    --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* \
    -cf "$tarball" .
rm -rf "$work_dir"
