/*
 * Test helper: sends its standard input as is to a Unix socket, then
 * prints the reply lines.  Usage: rawclient SOCKET LINES [HOLD_SECONDS]
 * Stops after LINES lines, at EOF, or after 60 s without data.  With
 * HOLD_SECONDS it first connects and stays silent that long.  LINES -1:
 * it never reads a reply, and stays connected until the server closes
 * the connection (exit 0) or 120 s pass (exit 3).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	struct sockaddr_un sun;
	struct pollfd pfd;
	char buf[65536];
	ssize_t n, off, w;
	int fd, want, got = 0;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: rawclient SOCKET LINES [HOLD_SECONDS]\n");
		return 2;
	}
	want = atoi(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[1]);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		perror("rawclient: connect");
		return 2;
	}
	if (argc == 4)
		sleep((unsigned)atoi(argv[3]));
	while ((n = read(0, buf, sizeof(buf))) > 0)
		for (off = 0; off < n; off += w)
			if ((w = write(fd, buf + off, (size_t)(n - off))) == -1) {
				/* A server that closed a flooding client. */
				if (want == -1 && (errno == EPIPE ||
				    errno == ECONNRESET))
					return 0;
				perror("rawclient: write");
				return 2;
			}
	pfd.fd = fd;
	if (want == -1) {
		/* Not reading: only a hang-up (or a reset) ends it. */
		pfd.events = 0;
		if (poll(&pfd, 1, 120000) <= 0) {
			fprintf(stderr, "rawclient: still connected after "
			    "120 s\n");
			return 3;
		}
		close(fd);
		return 0;
	}
	pfd.events = POLLIN;
	while (got < want) {
		if (poll(&pfd, 1, 60000) <= 0) {
			fprintf(stderr, "rawclient: no reply in 60 s\n");
			return 3;
		}
		if ((n = read(fd, buf, sizeof(buf))) <= 0)
			break;
		fwrite(buf, 1, (size_t)n, stdout);
		for (off = 0; off < n; off++)
			if (buf[off] == '\n')
				got++;
	}
	close(fd);
	return got == want ? 0 : 4;
}
