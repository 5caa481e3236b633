# shellcheck shell=bash
# Helpers to build small test guests in libvirt, shared by the demo and the
# integration tests.  Source it; every function is prefixed sg_.
#
# A guest is an ext4 image built from a directory (mkfs.ext4 -d, no mount,
# no appliance) that boots the host's own kernel and initrd into a static
# busybox that idles, under TCG (<domain type='qemu'>).

SG_URI=${SG_URI:-qemu:///system}
SG_EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
SG_TESTFILES=/usr/share/clamav-testfiles

sg_virsh() { virsh -q -c "$SG_URI" "$@"; }

# sg_kernel DIR: copies the host's newest kernel and initrd into DIR, so
# libvirt relabels our copies and not the host's /boot.
sg_kernel() {
	local dir=$1 k i
	k=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
	i=$(ls -1 /boot/initrd.img-* 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$k" ] || [ -z "$i" ]; then
		echo "no kernel or initrd in /boot (install linux-image-amd64)" >&2
		return 1
	fi
	cp "$k" "$dir/vmlinuz"
	cp "$i" "$dir/initrd.img"
}

# sg_rootfs DIR: a minimal root that boots and idles.
sg_rootfs() {
	local dir=$1
	mkdir -p "$dir/bin" "$dir/sbin" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/etc" "$dir/run"
	cp /bin/busybox "$dir/bin/busybox"
	cat > "$dir/sbin/init" <<'EOT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "sentinel test guest up"
exec /bin/busybox sleep 2147483647
EOT
	chmod 755 "$dir/sbin/init"
	echo "sentinel-test" > "$dir/etc/hostname"
}

# sg_ticker_rootfs DIR: a root whose init keeps writing: every second a
# new /ticks/tN (the EICAR string), 256 KiB written over the next slice of
# a 32 MiB file of random data (old data overwritten: what a backup job's
# scratch file must keep), a sync, then "tick N" on the console.
sg_ticker_rootfs() {
	local dir=$1
	sg_rootfs "$dir"
	printf '%s' "$SG_EICAR" > "$dir/eicar.src"
	mkdir -p "$dir/ticks" "$dir/data"
	head -c 32M /dev/urandom > "$dir/data/fill"
	cat > "$dir/sbin/init" <<'EOT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -o remount,rw /
echo "sentinel test guest up"
# The guest agent, where sg_agent put one.
if [ -x /usr/sbin/qemu-ga ]; then
	/bin/busybox insmod /lib/modules/virtio_console.ko
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		port=$(/bin/busybox ls /dev/vport*p1 2>/dev/null)
		[ -n "$port" ] && break
		/bin/busybox sleep 0.5
	done
	/usr/sbin/qemu-ga -m virtio-serial -p "$port" -t /tmp \
	    --fsfreeze-hook=/etc/freeze-hook &
fi
n=0
while :; do
	n=$((n + 1))
	/bin/busybox cp /eicar.src /ticks/t$n
	/bin/busybox dd if=/dev/urandom of=/data/fill bs=64k count=4 \
	    seek=$((n % 128 * 4)) conv=notrunc 2>/dev/null
	/bin/busybox sync
	echo "tick $n"
	/bin/busybox sleep 1
done
EOT
}

# sg_agent DIR: the host's QEMU guest agent, the libraries it loads and
# the virtio console module of the kernel sg_kernel copies, for a root of
# sg_ticker_rootfs (whose init starts them).
sg_agent() {
	local dir=$1 k f
	k=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
	[ -x /usr/sbin/qemu-ga ] || { echo "no /usr/sbin/qemu-ga (install qemu-guest-agent)" >&2; return 1; }
	f=$(find "/lib/modules/${k#/boot/vmlinuz-}" -name 'virtio_console.ko' | head -n 1)
	[ -n "$f" ] || { echo "no virtio_console.ko for ${k#/boot/vmlinuz-}" >&2; return 1; }
	mkdir -p "$dir/usr/sbin" "$dir/lib/modules" "$dir/tmp" "$dir/etc"
	cp "$f" "$dir/lib/modules/virtio_console.ko"
	# The agent runs it before a freeze and waits for it: it never ends
	# while /hang-freeze exists (a test makes it through the agent), as
	# a broken hook of a real guest, or a hostile one, may not.
	cat > "$dir/etc/freeze-hook" <<'EOT'
#!/bin/busybox sh
[ "$1" = freeze ] && [ -e /hang-freeze ] && exec /bin/busybox sleep 1000000
exit 0
EOT
	chmod 755 "$dir/etc/freeze-hook"
	cp /usr/sbin/qemu-ga "$dir/usr/sbin/qemu-ga"
	for f in $(ldd /usr/sbin/qemu-ga | grep -o '/[^ ]*'); do
		cp --parents -L "$f" "$dir/"
	done
}

# sg_infect DIR: the EICAR string and clamav-testfiles in nested directories.
sg_infect() {
	local dir=$1 n=0 f sub
	mkdir -p "$dir/root" "$dir/home/user/downloads"
	printf '%s' "$SG_EICAR" > "$dir/root/eicar.com"
	printf '%s' "$SG_EICAR" > "$dir/home/user/downloads/invoice.pdf.exe"
	# Clean for ClamAV; what the tests' YARA rule looks for.
	printf 'meeting notes\nSENTINEL-YARA-TEST-MARKER\n' > "$dir/home/user/notes.txt"
	for f in "$SG_TESTFILES"/*; do
		n=$((n + 1))
		sub="$dir/srv/share/d$((n % 4))/e$((n % 3))"
		mkdir -p "$sub"
		cp "$f" "$sub/"
	done
}

# sg_clean_content DIR: ordinary files that no signature matches.
sg_clean_content() {
	local dir=$1 i
	mkdir -p "$dir/etc/app" "$dir/var/log" "$dir/home/user/notes"
	for i in 1 2 3 4 5 6 7 8; do
		echo "line $i of a plain note" > "$dir/home/user/notes/note$i.txt"
	done
	head -c 300000 /dev/urandom > "$dir/var/log/blob.bin"
	printf 'key = value\n' > "$dir/etc/app/app.conf"
	: > "$dir/var/log/empty.log"
}

# sg_image SRC IMG [SIZE]: raw ext4 image of a directory.
sg_image() {
	mkfs.ext4 -q -d "$1" -F "$2" "${3:-64M}" >/dev/null
}

# sg_define NAME DIR IMG FORMAT [DEVICES]: defines a guest booting DIR's
# kernel; DEVICES is more device XML (another disk, say).
sg_define() {
	local name=$1 dir=$2 img=$3 fmt=$4 extra=${5:-} xml
	xml=$(mktemp)
	cat > "$xml" <<EOT
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$dir/vmlinuz</kernel>
    <initrd>$dir/initrd.img</initrd>
    <cmdline>root=/dev/vda ro console=ttyS0 init=/sbin/init</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='$fmt'/>
      <source file='$img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    $extra
    <serial type='file'><source path='$dir/$name.console'/></serial>
    <console type='file'><source path='$dir/$name.console'/></console>
  </devices>
</domain>
EOT
	sg_virsh define "$xml" >/dev/null
	local rc=$?
	rm -f "$xml"
	return $rc
}

# sg_undefine NAME: stops and removes a guest if it exists.
sg_undefine() {
	sg_virsh domstate "$1" >/dev/null 2>&1 || return 0
	sg_virsh destroy "$1" >/dev/null 2>&1 || true
	sg_virsh undefine --snapshots-metadata "$1" >/dev/null
}

# sg_sigdb DIR: a signature database that detects EICAR and clam.exe (and
# so every file of clamav-testfiles, which unpack to it), and EICAR at the
# start of a larger file.
sg_sigdb() {
	local dir=$1 tmp
	mkdir -p "$dir"
	tmp=$(mktemp -d)
	printf '%s' "$SG_EICAR" > "$tmp/eicar"
	{
		(cd "$tmp" && sigtool --md5 eicar) | sed 's/:eicar$/:Sentinel.Test.EICAR/'
		(cd "$SG_TESTFILES" && sigtool --md5 clam.exe) | sed 's/:clam.exe$/:Sentinel.Test.ClamExe/'
	} > "$dir/sentinel-test.hdb"
	# EICAR followed by zeros, at the start of a file: the head of an
	# oversized file (the hash above matches EICAR alone only).
	printf 'Sentinel.Test.EICAR.Head:0:0:%s%s\n' \
		"$(printf '%s' "$SG_EICAR" | od -An -tx1 | tr -d ' \n')" \
		00000000000000000000000000000000 > "$dir/sentinel-test.ndb"
	rm -rf "$tmp"
}

# sg_wait_socket SOCKET PID: waits for sentineld to listen.
sg_wait_socket() {
	local sock=$1 pid=$2 i=0
	while [ ! -S "$sock" ]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "sentineld exited before listening" >&2
			return 1
		fi
		i=$((i + 1))
		[ "$i" -lt 600 ] || { echo "sentineld does not listen on $sock" >&2; return 1; }
		sleep 0.1
	done
}

# sg_linux_root DIR: sg_rootfs plus what libguestfs inspection takes for a
# Linux system (os-release, fstab, /bin/ls); FSTAB is the fstab text.
sg_linux_root() {
	local dir=$1 fstab=$2
	sg_rootfs "$dir"
	ln -sf busybox "$dir/bin/ls"
	ln -sf busybox "$dir/bin/sh"
	mkdir -p "$dir/srv" "$dir/usr/bin" "$dir/root"
	printf 'PRETTY_NAME="Sentinel Test Linux"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n' \
		> "$dir/etc/os-release"
	echo 12.0 > "$dir/etc/debian_version"
	printf '%s\n' "$fstab" > "$dir/etc/fstab"
}

# sg_layout_disk IMG ROOTDIR: one disk with the layouts a scanner must
# handle, built in one appliance launch: a GPT with an ext4 root (an
# inspectable Linux whose fstab mounts an LVM volume on /srv), swap, an LVM
# physical volume with an XFS and a btrfs volume, a vfat partition and a
# LUKS volume.  Each data filesystem holds the EICAR string.
sg_layout_disk() {
	local img=$1 root=$2 tmp
	tmp=$(mktemp -d)
	printf '%s' "$SG_EICAR" > "$tmp/eicar.com"
	echo "plain text" > "$tmp/readme.txt"
	rm -f "$img"
	truncate -s 1200M "$img"
	guestfish --keys-from-stdin --format=raw -a "$img" <<EOT
run
part-init /dev/sda gpt
part-add /dev/sda p 2048 264191
part-add /dev/sda p 264192 280575
part-add /dev/sda p 280576 2158591
part-add /dev/sda p 2158592 2191359
part-add /dev/sda p 2191360 2256895
mkfs ext4 /dev/sda1
mkswap /dev/sda2
pvcreate /dev/sda3
vgcreate sentvg /dev/sda3
lvcreate data sentvg 320
lvcreate btr sentvg 500
mkfs xfs /dev/sentvg/data
mkfs btrfs /dev/sentvg/btr
mkfs vfat /dev/sda4
luks-format /dev/sda5 0
sentinel-test-key
mount /dev/sda1 /
copy-in $root/bin $root/sbin $root/etc $root/root $root/srv $root/usr $root/proc $root/sys $root/dev $root/run /
upload $tmp/eicar.com /root/eicar.com
umount-all
mount /dev/sentvg/data /
mkdir /x
upload $tmp/eicar.com /x/eicar.com
upload $tmp/readme.txt /x/readme.txt
umount-all
mount /dev/sentvg/btr /
mkdir /b
upload $tmp/eicar.com /b/eicar.com
umount-all
mount /dev/sda4 /
mkdir /dos
upload $tmp/eicar.com /dos/eicar.com
umount-all
EOT
	local rc=$?
	rm -rf "$tmp"
	return $rc
}

# sg_hostile DIR HOSTFILE: a tree a hostile guest could hold: names with a
# newline, control bytes and invalid UTF-8; a 4000-byte path and 1000
# nested directories; symlink loops and links to host paths (HOSTFILE is
# an EICAR file on the host: a scanner following the link would report
# it); device nodes and a FIFO; a hard link, and EICAR with two names,
# one holding a newline; a sparse 10 GiB file; an
# EICAR zipped five levels deep; a zip bomb (100 MB of zeros, for a
# max_scan_size of 50M); an encrypted zip; a 2 MB file
# that starts with EICAR.
sg_hostile() {
	local dir=$1 host=$2 tmp p i
	mkdir -p "$dir"
	tmp=$(mktemp -d)
	printf '%s' "$SG_EICAR" > "$dir/$(printf 'new\nline.com')"
	echo "plain" > "$dir/$(printf 'ctl\001\033[31m.txt')"
	echo "plain" > "$dir/$(printf 'bad\377\376utf8.txt')"
	# 16 components of 250 bytes and a file: a path of 4 031 bytes.
	p=$dir
	for i in $(seq 1 16); do p="$p/$(printf 'L%.0s' $(seq 1 249))$((i % 10))"; done
	mkdir -p "$p"
	printf '%s' "$SG_EICAR" > "$p/deep-eicar.com"
	p=$dir/nest
	for i in $(seq 1 1000); do p="$p/d"; done
	mkdir -p "$p"
	echo "at the bottom" > "$p/bottom.txt"
	ln -s loop-b "$dir/loop-a"
	ln -s loop-a "$dir/loop-b"
	ln -s . "$dir/loop-dir"
	ln -s /etc/shadow "$dir/shadow-link"
	ln -s "$host" "$dir/host-eicar-link"
	mknod "$dir/null-dev" c 1 3
	mknod "$dir/disk-dev" b 8 0
	mkfifo "$dir/fifo"
	echo "linked" > "$dir/hard-a"
	ln "$dir/hard-a" "$dir/hard-b"
	# EICAR under a name tar cannot exclude (a newline; the test
	# excludes it) and a second name that is read.
	mkdir "$dir/hl"
	printf '%s' "$SG_EICAR" > "$dir/hl/$(printf 'x\nex.com')"
	ln "$dir/hl/$(printf 'x\nex.com')" "$dir/hl/kept.com"
	truncate -s 10G "$dir/sparse-10g"
	{ printf '%s' "$SG_EICAR"; head -c 2000000 /dev/zero; } > "$dir/big-eicar.com"
	printf '%s' "$SG_EICAR" > "$tmp/eicar.com"
	(cd "$tmp" && zip -q n1.zip eicar.com && for i in 2 3 4 5; do
		zip -q "n$i.zip" "n$((i - 1)).zip"; done)
	cp "$tmp/n5.zip" "$dir/nested.zip"
	# 100 MB of zeros in 100 members: past max_scan_size 50M.  (libclamav
	# passes a member over max_file_size without a word, so each is 1 MB.)
	mkdir "$tmp/bomb"
	for i in $(seq 1 100); do head -c 1000000 /dev/zero > "$tmp/bomb/z$i"; done
	(cd "$tmp/bomb" && zip -q ../bomb.zip z*)
	cp "$tmp/bomb.zip" "$dir/bomb.zip"
	(cd "$tmp" && zip -q -P secret enc.zip eicar.com)
	cp "$tmp/enc.zip" "$dir/encrypted.zip"
	rm -rf "$tmp"
}

# sg_windows_disk IMG: a Windows guest's disk, built without
# Windows in one appliance launch: an MBR (disk signature 0x12345678)
# with a FAT32 EFI partition, an NTFS system volume (C: in the registry's
# MountedDevices; Windows' system root with cmd.exe and the SYSTEM and
# SOFTWARE hives; hibernated: hiberfil.sys begins "HIBR"), an NTFS data
# volume (D:), and a volume blkid takes for BitLocker.  EICAR is in a
# download, in a named stream, in Skip-Me.txt (for an exclude pattern), in
# pagefile.sys (2 MiB: memory, which a scan skips) and in a 68-byte
# swapfile.sys (too small to be Windows': read); one file carries more
# named streams than a scan reads; tools.dat holds a marker a test
# overwrites on the image.
sg_windows_disk() {
	local img=$1 tmp mk i streams=""
	mk="$(dirname "${BASH_SOURCE[0]}")/../tests/integration/mkwin.py"
	tmp=$(mktemp -d)
	/usr/bin/python3 "$mk" hive "$tmp/empty" &&
	/usr/bin/python3 "$mk" pe "$tmp/cmd.exe" &&
	/usr/bin/python3 "$mk" bitlocker "$tmp/bitlocker" 8388608 || return 1
	# Partitions 2 and 3 start at bytes 0x4100000 and 0x8100000.
	cp "$tmp/empty" "$tmp/SYSTEM"
	cp "$tmp/empty" "$tmp/SOFTWARE"
	cat > "$tmp/system.reg" <<'EOR'
Windows Registry Editor Version 5.00

[\MountedDevices]
"\\DosDevices\\C:"=hex:78,56,34,12,00,00,10,04,00,00,00,00
"\\DosDevices\\D:"=hex:78,56,34,12,00,00,10,08,00,00,00,00

[\Select]
"Current"=dword:00000001

[\ControlSet001]

[\ControlSet001\Control]

[\ControlSet001\Control\ComputerName]

[\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="SENTWIN"

EOR
	cat > "$tmp/software.reg" <<'EOR'
Windows Registry Editor Version 5.00

[\Microsoft]

[\Microsoft\Windows NT]

[\Microsoft\Windows NT\CurrentVersion]
"ProductName"="Sentinel Test Windows"
"CurrentVersion"="6.3"
"CurrentMajorVersionNumber"=dword:0000000a
"CurrentMinorVersionNumber"=dword:00000000
"InstallationType"="Client"

EOR
	hivexregedit --merge "$tmp/SYSTEM" "$tmp/system.reg" &&
	hivexregedit --merge "$tmp/SOFTWARE" "$tmp/software.reg" || return 1
	printf '%s' "$SG_EICAR" > "$tmp/eicar.com"
	# Windows' memory on disk, each over the 1 MiB under which a file of
	# such a name is read like any other; swapfile.sys is under it.
	printf 'HIBR' > "$tmp/hiberfil.sys"
	head -c 2097152 /dev/zero >> "$tmp/hiberfil.sys"
	{ printf '%s' "$SG_EICAR"; head -c 2097152 /dev/zero; } > "$tmp/pagefile.sys"
	echo "quarterly report" > "$tmp/report.docx"
	printf '[ZoneTransfer]\r\nZoneId=3\r\n' > "$tmp/zone"
	{ printf 'SENTINEL-TIMESTOMP-MARKER'; head -c 4071 /dev/zero; } > "$tmp/tools.dat"
	for i in $(seq 1 20); do
		streams="${streams}write \"/Users/Ann/Documents/many.txt:s$i\" \"stream $i\"
"
	done
	# The EFI system partition, FAT32, built on the host.
	rm -f "$tmp/efi"
	mkfs.vfat -C -F 32 -s 1 -n EFI "$tmp/efi" 65536 >/dev/null &&
	MTOOLS_SKIP_CHECK=1 mmd -i "$tmp/efi" ::/EFI ::/EFI/Boot &&
	MTOOLS_SKIP_CHECK=1 mcopy -i "$tmp/efi" "$tmp/eicar.com" ::/EFI/Boot/eicar.com || return 1
	rm -f "$img"
	truncate -s 200M "$img"
	guestfish --format=raw -a "$img" <<EOT
run
part-init /dev/sda mbr
part-add /dev/sda p 2048 133119
part-add /dev/sda p 133120 264191
part-add /dev/sda p 264192 296959
part-add /dev/sda p 296960 313343
part-set-mbr-id /dev/sda 1 0xef
part-set-mbr-id /dev/sda 2 0x07
part-set-mbr-id /dev/sda 3 0x07
part-set-mbr-id /dev/sda 4 0x07
mkfs ntfs /dev/sda2
mkfs ntfs /dev/sda3
mount-options streams_interface=windows /dev/sda2 /
mkdir-p /Windows/System32/config
upload $tmp/cmd.exe /Windows/System32/cmd.exe
upload $tmp/SYSTEM /Windows/System32/config/SYSTEM
upload $tmp/SOFTWARE /Windows/System32/config/SOFTWARE
mkdir-p /Users/Ann/Downloads
mkdir-p /Users/Ann/Documents
upload $tmp/eicar.com /Users/Ann/Downloads/invoice.exe
upload $tmp/report.docx /Users/Ann/Documents/report.docx
upload $tmp/eicar.com /Users/Ann/Documents/report.docx:payload.exe
upload $tmp/zone /Users/Ann/Downloads/invoice.exe:Zone.Identifier
write /Users/Ann/Documents/many.txt "many streams"
$streams
upload $tmp/tools.dat /Users/Ann/tools.dat
upload $tmp/pagefile.sys /pagefile.sys
upload $tmp/eicar.com /swapfile.sys
upload $tmp/hiberfil.sys /hiberfil.sys
upload $tmp/report.docx /readme.txt
upload $tmp/eicar.com /Users/Ann/Documents/Skip-Me.txt
umount-all
mount /dev/sda3 /
mkdir /Data
upload $tmp/eicar.com /Data/eicar.com
upload $tmp/report.docx /Data/notes.txt
umount-all
EOT
	local rc=$?
	if [ $rc -eq 0 ]; then
		dd if="$tmp/efi" of="$img" bs=512 seek=2048 conv=notrunc status=none &&
		dd if="$tmp/bitlocker" of="$img" bs=512 seek=296960 conv=notrunc status=none &&
		printf '\170\126\064\022' | dd of="$img" bs=1 seek=440 conv=notrunc status=none
		rc=$?
	fi
	rm -rf "$tmp"
	return $rc
}
