# Builds the test guests once per run, defines them in libvirt (one
# running, the others shut off), makes a signature database and starts
# sentineld on a private socket and state file.
. "$TESTDIR/lib.sh"

"$SRCDIR/scripts/host-setup" || fail "libvirtd and virtlogd could not be started"

for g in $G_INFECTED $G_CLEAN $G_NOFS $G_CLONE; do
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

sg_sigdb "$DB"
write_conf "$CONF" "$SOCK" "$WORK/state.db"
"$SENTINELD" -n -c "$CONF" >/dev/null || fail "sentineld -n rejects the test config"

setsid "$SENTINELD" -f -v -c "$CONF" >"$WORK/sentineld.log" 2>&1 </dev/null &
echo $! > "$PIDFILE"
sg_wait_socket "$SOCK" "$(cat "$PIDFILE")" || { cat "$WORK/sentineld.log"; fail "sentineld did not start"; }
ok "guests defined, sentineld $(cat "$PIDFILE") listening on $SOCK"
