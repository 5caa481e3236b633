/* libFuzzer: the configuration parser (inih and the option table) on any
 * file, then the printer of what it accepted. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char path[64], err[512];
	FILE *null;
	int fd;

	if ((fd = memfd_create("conf", 0)) == -1)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	config_defaults(&c);
	if (config_load(&c, path, err, sizeof(err)) == 0 &&
	    (null = fopen("/dev/null", "w")) != NULL) {
		config_print(&c, null);
		fclose(null);
	}
	config_free(&c);
	close(fd);
	return 0;
}
