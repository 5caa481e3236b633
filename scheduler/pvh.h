/*
 * The appliance's kernel, booted without its decompressor: qemu loads an
 * uncompressed x86-64 kernel (ELF) that has a PVH entry point straight
 * into memory, where a bzImage first unpacks itself under the emulated
 * CPU (seconds under TCG, at every launch).  These read the host's own
 * kernel, never a guest's bytes.
 */
#ifndef SENTINEL_PVH_H
#define SENTINEL_PVH_H

#include <stddef.h>
#include <stdint.h>

/* Largest kernel image taken, packed or not. */
#define PVH_MAX_KERNEL	(512u << 20)

/*
 * The packed kernel inside bzImage BUF (LEN bytes, boot protocol 2.08 or
 * later): its offset and length in BUF, the unpacked size the build
 * appended, and the program that unpacks it ("xz", "gzip", ...); -1 with
 * WHY if BUF is not such an image or its packing is not one known here.
 */
int	pvh_payload(const unsigned char *buf, size_t len, size_t *off,
	    size_t *plen, uint32_t *size, const char **tool, char *why,
	    size_t whylen);

/*
 * Whether BUF (LEN bytes) is a whole x86-64 ELF executable, every
 * segment inside it, with a PVH entry note (Xen's note 18) in one of its
 * note segments: 1 yes, 0 no (WHY says why).
 */
int	pvh_elf(const unsigned char *buf, size_t len, char *why,
	    size_t whylen);

/*
 * Replaces the bzImage DIR/kernel with the kernel it packs, when that
 * kernel can boot through PVH: 2 done now, 1 done before, 0 kept as it is
 * (WHY says why; DIR/kernel.bzimage-only records it so that it is not
 * tried at every start), -1 on an error (WHY).
 */
int	pvh_appliance_kernel(const char *dir, char *why, size_t whylen);

#endif
