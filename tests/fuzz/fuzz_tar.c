/* libFuzzer: a tar stream from a guest, whatever it holds, through the
 * walker and into the engine (a one-signature database made at start), as
 * the scan pipeline reads it from the appliance, without an appliance. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine.h"
#include "walker.h"

static struct engine *engine;

static int
on_file(void *arg, const struct walk_entry *we)
{
	const char *hits[ENGINE_NKINDS];
	char err[256];

	(void)arg;
	if (we->kind == WALK_FILE)
		(void)engine_scan_mem(engine, we->data, we->len, we->path,
		    hits, NULL, err, sizeof(err));
	return 0;
}

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char eicar_md5[] =
	    "44d88612fea8a8f36de82e1278abb02f:68:Fuzz.EICAR\n";
	struct engine_limits l = { 1 << 20, 1 << 20, 4, 100, 2000 };
	char dir[] = "/tmp/sentinel-fuzz-XXXXXX", path[64], err[512];
	FILE *f;

	(void)argc;
	(void)argv;
	if (engine_global_init(err, sizeof(err)) == -1 ||
	    mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/fuzz.hdb", dir);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fputs(eicar_md5, f);
	fclose(f);
	if ((engine = engine_load(dir, dir, NULL, &l, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	unlink(path);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_Atomic uint64_t bytes;
	atomic_int cancel;
	char err[256];
	int fd;

	if ((fd = memfd_create("tar", 0)) == -1)
		return 0;
	if (write(fd, data, size) != (ssize_t)size ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		close(fd);
		return 0;
	}
	atomic_init(&bytes, 0);
	atomic_init(&cancel, 0);
	(void)walk_tar_fd(fd, "", 1 << 20, NULL, on_file, NULL, &cancel,
	    &bytes, err, sizeof(err));
	close(fd);
	return 0;
}
