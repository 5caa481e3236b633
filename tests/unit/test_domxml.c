/* Disks from libvirt domain XML: which are scanned, with which format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sentineld.h"

struct daemon sd;	/* domxml.c needs none of it; the header declares it */

static void
test_disks(void **state)
{
	const char *xml =
	    "<domain type='kvm'><name>g</name><devices>"
	    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
	    "<source file='/img/a.qcow2'/><target dev='vda' bus='virtio'/></disk>"
	    "<disk type='block' device='disk'>"
	    "<source dev='/dev/vg/b'/><target dev='vdb'/></disk>"
	    "<disk type='file' device='cdrom'><source file='/iso/x.iso'/>"
	    "<target dev='hdc'/></disk>"
	    "<disk type='network' device='disk'><source protocol='rbd' name='p/i'/>"
	    "<target dev='vdc'/></disk>"
	    "<disk type='file' device='disk'><driver type='weird'/>"
	    "<source file='/img/w'/><target dev='vdd'/></disk>"
	    "<disk type='file' device='disk'><target dev='vde'/></disk>"
	    "</devices></domain>";
	struct scan_disk *d;
	char err[256], *note;
	size_t n;

	(void)state;
	assert_int_equal(domxml_disks(xml, &d, &n, &note, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(d[0].path, "/img/a.qcow2");
	assert_string_equal(d[0].format, "qcow2");
	assert_string_equal(d[0].target, "vda");
	/* No <driver type>: raw, as libvirt itself treats it; never probed. */
	assert_string_equal(d[1].path, "/dev/vg/b");
	assert_string_equal(d[1].format, "raw");
	assert_string_equal(note, "vdc: disk type not supported; "
	    "vdd: unknown disk format; vde: no source");
	disks_free(d, n);
	free(note);
}

static void
test_no_disks(void **state)
{
	struct scan_disk *d;
	char err[256], *note;
	size_t n;

	(void)state;
	assert_int_equal(domxml_disks("<domain><name>g</name></domain>", &d,
	    &n, &note, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_null(note);
	disks_free(d, n);
}

static void
test_bad_xml(void **state)
{
	struct scan_disk *d;
	char err[256], *note;
	size_t n;

	(void)state;
	assert_int_equal(domxml_disks("<domain><devices>", &d, &n, &note, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "domain XML does not parse");
	assert_int_equal(domxml_disks("<network/>", &d, &n, &note, err,
	    sizeof(err)), -1);
	/* No entity is loaded from outside: refused or left unexpanded. */
	if (domxml_disks("<!DOCTYPE d [<!ENTITY e SYSTEM "
	    "'file:///etc/passwd'>]><domain><devices><disk type='file' "
	    "device='disk'><source file='&e;'/><target dev='vda'/></disk>"
	    "</devices></domain>", &d, &n, &note, err, sizeof(err)) == 0) {
		assert_true(n == 0 || strstr(d[0].path, "root:") == NULL);
		disks_free(d, n);
		free(note);
	}
}

static void
test_copy(void **state)
{
	struct scan_disk src[1] = { { "/a", "raw", "vda", 1 } }, *c;

	(void)state;
	c = disks_copy(src, 1);
	assert_non_null(c);
	assert_string_equal(c[0].path, "/a");
	assert_true(c[0].path != src[0].path);
	assert_int_equal(c[0].nbd, 1);
	disks_free(c, 1);
}

static void
test_agent(void **state)
{
	(void)state;
	assert_int_equal(domxml_agent("<domain><devices><disk/></devices>"
	    "</domain>"), -1);
	/* Another channel is not the agent's. */
	assert_int_equal(domxml_agent("<domain><devices><channel type='unix'>"
	    "<target type='virtio' name='org.example.x' state='connected'/>"
	    "</channel></devices></domain>"), -1);
	assert_int_equal(domxml_agent("<domain><devices><channel type='unix'>"
	    "<target type='virtio' name='org.qemu.guest_agent.0' "
	    "state='disconnected'/></channel></devices></domain>"), 0);
	assert_int_equal(domxml_agent("<domain><devices><channel type='unix'>"
	    "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
	    "</devices></domain>"), 0);
	assert_int_equal(domxml_agent("<domain><devices><channel type='unix'>"
	    "<target type='virtio' name='org.qemu.guest_agent.0' "
	    "state='connected'/></channel></devices></domain>"), 1);
	assert_int_equal(domxml_agent("not xml"), -1);
}

/* The backup XML parses back to the same socket, and values are escaped. */
static void
test_backup(void **state)
{
	struct scan_disk d[2] = { { "/img/a", "qcow2", "vda", 0 },
	    { "/img/b", "raw", "vdb", 0 } };
	char *scratch[2] = { "/s/u-vda.qcow2", "/s/it's<&>.qcow2" };
	char *xml, *sock;

	(void)state;
	xml = domxml_backup("/s/a'b&c.sock", d, 2, scratch);
	assert_non_null(xml);
	assert_non_null(strstr(xml, "<domainbackup mode='pull'>"));
	assert_non_null(strstr(xml, "socket='/s/a&apos;b&amp;c.sock'"));
	assert_non_null(strstr(xml, "<disk name='vda' backup='yes' "
	    "type='file'>"));
	assert_non_null(strstr(xml, "<scratch file='/s/u-vda.qcow2'/>"));
	assert_non_null(strstr(xml, "file='/s/it&apos;s&lt;&amp;&gt;.qcow2'"));
	/* The image paths are libvirt's business, not the backup's. */
	assert_null(strstr(xml, "/img/"));
	sock = domxml_backup_socket(xml);
	assert_non_null(sock);
	assert_string_equal(sock, "/s/a'b&c.sock");
	free(sock);
	free(xml);
	assert_null(domxml_backup_socket("<domainbackup mode='pull'><server "
	    "transport='tcp' name='localhost' port='10809'/></domainbackup>"));
	assert_null(domxml_backup_socket("<domain/>"));
	assert_null(domxml_backup_socket("<"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disks),
		cmocka_unit_test(test_no_disks),
		cmocka_unit_test(test_bad_xml),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_agent),
		cmocka_unit_test(test_backup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
