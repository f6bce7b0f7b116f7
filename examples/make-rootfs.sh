#!/bin/sh
# Makes a busybox-static root filesystem in DIR: the demo's container image.
#   examples/make-rootfs.sh out/busybox-rootfs
set -eu
dir=${1:?usage: make-rootfs.sh DIR}
[ -x /bin/busybox ] || { echo "make-rootfs.sh: /bin/busybox is missing; apt-get install busybox-static" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir/bin" "$dir/etc" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/root" "$dir/run" "$dir/var"
cp /bin/busybox "$dir/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$dir/etc/passwd"
printf 'root:x:0:\n' > "$dir/etc/group"
