#!/bin/sh
# Makes a busybox-static root filesystem in DIR, the demo's container image,
# and with TAG also loads it into the Docker engine as that image.
#   examples/make-rootfs.sh out/busybox-rootfs [keel-demo/busybox:1]
# BUSYBOX=FILE ARCH=arm64 makes it of another architecture's busybox-static
# (the applet links are this machine's busybox's list, which is the same).
# The image is written as a `docker save` archive with sorted entries and
# fixed times, so the same busybox gives the same image id every time.
set -eu
dir=${1:?usage: make-rootfs.sh DIR [TAG]}
tag=${2:-}
busybox=${BUSYBOX:-/bin/busybox}
arch=${ARCH:-amd64}
[ -x /bin/busybox ] || { echo "make-rootfs.sh: /bin/busybox is missing; apt-get install busybox-static" >&2; exit 1; }
[ -f "$busybox" ] || { echo "make-rootfs.sh: $busybox is missing" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir/bin" "$dir/etc" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/root" "$dir/run" "$dir/var"
cp "$busybox" "$dir/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$dir/etc/passwd"
printf 'root:x:0:\n' > "$dir/etc/group"
[ -n "$tag" ] || exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$dir" -cf "$work/layer.tar" .
diff=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir "$work/image" && mv "$work/layer.tar" "$work/image/layer.tar"
printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$arch" "$diff" > "$work/image/config.json"
printf '[{"Config":"config.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$tag" > "$work/image/manifest.json"
tar -C "$work/image" -cf "$work/image.tar" .
docker load -q -i "$work/image.tar"
