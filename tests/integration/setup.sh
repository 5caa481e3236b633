# Builds the test guests once per run, defines them in libvirt (one
# running, the others shut off), makes a signature database and starts
# sentineld on a private socket and state file.
. "$TESTDIR/lib.sh"

"$SRCDIR/scripts/host-setup" || fail "libvirtd and virtlogd could not be started"

for g in $G_ALL $G_TICKER $G_WINDOWS; do
	sg_undefine "$g"
done
if [ -f "$PIDFILE" ]; then
	kill "$(cat "$PIDFILE")" 2>/dev/null
	sleep 1
fi
rm -rf "$WORK"
mkdir -p "$WORK/content/infected" "$WORK/content/clean"

sg_kernel "$WORK" || fail "no kernel to boot the test guests"
sg_rootfs "$WORK/content/clean"
sg_clean_content "$WORK/content/clean"
sg_infect "$WORK/content/infected"
sg_image "$WORK/content/infected" "$WORK/infected.img" || fail "mkfs infected"
sg_image "$WORK/content/clean" "$WORK/clean.img" || fail "mkfs clean"
# A disk with no filesystem at all: zeros.
truncate -s 32M "$WORK/nofs.img"
# The infected guest is a qcow2 overlay of its raw image: the format must
# be passed on, never probed.
qemu-img create -q -f qcow2 -b "$WORK/infected.img" -F raw "$WORK/infected.qcow2" \
	|| fail "qemu-img"

sg_define $G_INFECTED "$WORK" "$WORK/infected.qcow2" qcow2 || fail "define infected"
sg_define $G_CLEAN "$WORK" "$WORK/clean.img" raw || fail "define clean"
# A linked clone of a copy of the clean guest's image, shut off.  (Not of
# the image itself: the running guest holds a write lock on it that the
# appliance's qemu honours for a backing file.)
cp "$WORK/clean.img" "$WORK/golden.img"
qemu-img create -q -f qcow2 -b "$WORK/golden.img" -F raw "$WORK/clone.qcow2" || fail "qemu-img clone"
sg_define $G_CLONE "$WORK" "$WORK/clone.qcow2" qcow2 || fail "define clone"
# Its second disk is on an NBD server: sentinel cannot open that kind.
sg_define $G_NOFS "$WORK" "$WORK/nofs.img" raw \
	"<disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='nbd' name='x'><host name='localhost' port='10809'/></source><target dev='vdb' bus='virtio'/></disk>" ||
	fail "define nofs"
sg_virsh start $G_CLEAN >/dev/null || fail "start $G_CLEAN"

# The layout guest (never started): a GPT disk with an inspectable Linux
# root, swap, LVM with XFS and btrfs, vfat and LUKS (one appliance launch
# to build), a whole-disk ext4 whose group descriptors are zeroed (mount
# fails), and a whole-disk ext4.  Each data filesystem holds EICAR.
sg_linux_root "$WORK/content/layout-root" "$(printf '%s\n' \
	'/dev/vda1 / ext4 defaults 0 1' '/dev/sentvg/data /srv xfs defaults 0 2' \
	'/dev/vda2 none swap sw 0 0')"
# Its name as the guest's root writes it: terminal controls, ESC (8m
# hides the text after it) and the C1 CSI as UTF-8 (U+009B).  (Inspection
# takes a Debian's name from debian_version: an Ubuntu's from here.)
printf 'PRETTY_NAME="Sentinel Test Linux\033[8m\302\2338m"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\n' \
	> "$WORK/content/layout-root/etc/os-release"
rm -f "$WORK/content/layout-root/etc/debian_version"
# EICAR on the root filesystem under /srv, where the guest mounts the XFS
# volume: hidden from the running guest.
mkdir -p "$WORK/content/layout-root/srv"
printf '%s' "$SG_EICAR" > "$WORK/content/layout-root/srv/hidden.com"
LIBGUESTFS_BACKEND=direct \
LIBGUESTFS_BACKEND_SETTINGS=${SENTINEL_TEST_BACKEND_SETTINGS:-force_tcg} \
	sg_layout_disk "$WORK/layout.img" "$WORK/content/layout-root" >"$WORK/layout.log" 2>&1 ||
	fail "building the layout disk: $(cat "$WORK/layout.log")"
mkdir -p "$WORK/content/whole"
printf '%s' "$SG_EICAR" > "$WORK/content/whole/eicar.com"
echo "hello" > "$WORK/content/whole/hello.txt"
sg_image "$WORK/content/whole" "$WORK/whole.img" 16M || fail "mkfs whole"
sg_image "$WORK/content/whole" "$WORK/broken.img" 16M || fail "mkfs broken"
# 1 KiB blocks: the group descriptors are block 2.
dd if=/dev/zero of="$WORK/broken.img" bs=1024 seek=2 count=1 conv=notrunc 2>/dev/null
disk() { echo "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$1'/><target dev='$2' bus='virtio'/></disk>"; }
sg_define $G_LAYOUT "$WORK" "$WORK/layout.img" raw \
	"$(disk "$WORK/broken.img" vdb)$(disk "$WORK/whole.img" vdc)" || fail "define layout"

# The hostile guest (never started).
printf '%s' "$SG_EICAR" > "$WORK/host-eicar.com"
sg_hostile "$WORK/content/hostile" "$WORK/host-eicar.com" || fail "hostile tree"
sg_image "$WORK/content/hostile" "$WORK/hostile.img" 128M || fail "mkfs hostile"
sg_define $G_HOSTILE "$WORK" "$WORK/hostile.img" raw || fail "define hostile"

sg_sigdb "$DB"
write_conf "$CONF" "$SOCK" "$WORK/state.db"
"$SENTINELD" -n -c "$CONF" >/dev/null || fail "sentineld -n rejects the test config"

setsid "$SENTINELD" -f -v -c "$CONF" >"$WORK/sentineld.log" 2>&1 </dev/null &
echo $! > "$PIDFILE"
sg_wait_socket "$SOCK" "$(cat "$PIDFILE")" || { cat "$WORK/sentineld.log"; fail "sentineld did not start"; }
# The appliance was prepared before sentineld listened; Debian's kernel
# has a PVH entry, so its kernel is unpacked there, once, and every
# appliance boots it without unpacking it (sentineld.conf(5), appliance).
appl=/var/cache/sentinel/appliance
[ "$(head -c 4 "$appl/kernel" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] ||
	fail "the appliance's kernel is still packed: $(cat "$appl/kernel.bzimage-only" 2>/dev/null)"
ok "guests defined, sentineld $(cat "$PIDFILE") listening on $SOCK"
