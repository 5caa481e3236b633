/* Protocol framing and message validation, malformed input included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"
#include "sentinel/version.h"

struct lines {
	int	 n;		/* complete lines */
	int	 toolong;	/* overlong lines reported */
	char	*last;
	size_t	 lastlen;
	int	 stop_after;	/* return -1 after this many lines; 0 never */
};

static int
collect(void *arg, const char *line, size_t len)
{
	struct lines *l = arg;

	if (line == NULL) {
		l->toolong++;
		return 0;
	}
	assert_int_equal(strlen(line), len);
	free(l->last);
	l->last = strdup(line);
	l->lastlen = len;
	l->n++;
	return l->stop_after && l->n == l->stop_after ? -1 : 0;
}

static void
test_split(void **state)
{
	struct linebuf lb;
	struct lines l = { 0 };

	(void)state;
	linebuf_init(&lb);
	assert_int_equal(linebuf_feed(&lb, "ab", 2, collect, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(linebuf_feed(&lb, "c\nde\n\nf", 7, collect, &l), 0);
	assert_int_equal(l.n, 3);	/* "abc", "de", "" */
	assert_string_equal(l.last, "");
	assert_int_equal(linebuf_feed(&lb, "g\n", 2, collect, &l), 0);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.last, "fg");
	free(l.last);
	linebuf_free(&lb);
}

static void
test_one_byte_at_a_time(void **state)
{
	const char *msg = "{\"hello\":\"sentinel\"}\n{\"cmd\":\"status\"}\n";
	struct linebuf lb;
	struct lines l = { 0 };
	size_t i;

	(void)state;
	linebuf_init(&lb);
	for (i = 0; i < strlen(msg); i++)
		assert_int_equal(linebuf_feed(&lb, msg + i, 1, collect, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.last, "{\"cmd\":\"status\"}");
	free(l.last);
	linebuf_free(&lb);
}

static void
test_too_long(void **state)
{
	struct linebuf lb;
	struct lines l = { 0 };
	char *big;
	size_t n = PROTO_MAX_LINE + 10;

	(void)state;
	big = malloc(n);
	memset(big, 'x', n);
	linebuf_init(&lb);
	/* Exactly the limit passes. */
	assert_int_equal(linebuf_feed(&lb, big, PROTO_MAX_LINE, collect, &l), 0);
	assert_int_equal(linebuf_feed(&lb, "\n", 1, collect, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.lastlen, PROTO_MAX_LINE);
	/* Over it, in pieces: reported once, then the next line is fine. */
	assert_int_equal(linebuf_feed(&lb, big, n / 2, collect, &l), 0);
	assert_int_equal(linebuf_feed(&lb, big, n - n / 2, collect, &l), 0);
	assert_int_equal(linebuf_feed(&lb, big, n, collect, &l), 0);
	assert_int_equal(l.toolong, 1);
	assert_int_equal(linebuf_feed(&lb, "tail\nok\n", 8, collect, &l), 0);
	assert_int_equal(l.toolong, 1);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.last, "ok");
	free(big);
	free(l.last);
	linebuf_free(&lb);
}

static void
test_stop(void **state)
{
	struct linebuf lb;
	struct lines l = { 0 };

	(void)state;
	l.stop_after = 1;
	linebuf_init(&lb);
	assert_int_equal(linebuf_feed(&lb, "a\nb\n", 4, collect, &l), -1);
	assert_int_equal(l.n, 1);
	free(l.last);
	linebuf_free(&lb);
}

static void
test_parse(void **state)
{
	char err[256];
	json_t *j;

	(void)state;
	j = proto_parse("{\"cmd\":\"status\"}", 16, err, sizeof(err));
	assert_non_null(j);
	json_decref(j);
	assert_null(proto_parse("{\"cmd\":", 7, err, sizeof(err)));
	assert_memory_equal(err, "invalid JSON", 12);
	assert_null(proto_parse("[1,2]", 5, err, sizeof(err)));
	assert_string_equal(err, "a message must be a JSON object");
	assert_null(proto_parse("\"x\"", 3, err, sizeof(err)));
	assert_null(proto_parse("{\"a\":1,\"a\":2}", 13, err, sizeof(err)));
	assert_null(proto_parse("{\"a\":\"\xff\"}", 9, err, sizeof(err)));
	assert_null(proto_parse("{} {}", 5, err, sizeof(err)));
}

static void
test_hello(void **state)
{
	char err[256];
	json_t *j;

	(void)state;
	j = proto_hello();
	assert_int_equal(proto_check_hello(j, err, sizeof(err)), 0);
	json_decref(j);
	j = json_pack("{s:s, s:i}", "hello", "sentinel", "version",
	    SENTINEL_PROTO_VERSION + 1);
	assert_int_equal(proto_check_hello(j, err, sizeof(err)), -1);
	assert_memory_equal(err, "protocol version mismatch", 25);
	{
		char want[128];

		/* Both versions named, the client's first. */
		snprintf(want, sizeof(want), "protocol version mismatch: the "
		    "client speaks version %d, this daemon version %d",
		    SENTINEL_PROTO_VERSION + 1, SENTINEL_PROTO_VERSION);
		assert_string_equal(err, want);
	}
	json_decref(j);
	j = json_pack("{s:s}", "hello", "sentinel");
	assert_int_equal(proto_check_hello(j, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "the hello has no version"));
	json_decref(j);
	j = json_pack("{s:s}", "cmd", "status");
	assert_int_equal(proto_check_hello(j, err, sizeof(err)), -1);
	assert_memory_equal(err, "expected hello", 14);
	json_decref(j);
	j = json_pack("{s:s, s:s}", "hello", "sentinel", "version", "1");
	assert_int_equal(proto_check_hello(j, err, sizeof(err)), -1);
	json_decref(j);
}

static void
test_request(void **state)
{
	const char *cmd;
	long long id;
	char err[256];
	json_t *j;

	(void)state;
	j = json_pack("{s:s, s:i}", "cmd", "scan", "id", 7);
	assert_int_equal(proto_request(j, &cmd, &id, err, sizeof(err)), 0);
	assert_string_equal(cmd, "scan");
	assert_int_equal(id, 7);
	json_decref(j);
	j = json_pack("{s:s}", "cmd", "status");
	assert_int_equal(proto_request(j, &cmd, &id, err, sizeof(err)), 0);
	assert_int_equal(id, -1);
	json_decref(j);
	j = json_pack("{s:i}", "cmd", 3);
	assert_int_equal(proto_request(j, &cmd, &id, err, sizeof(err)), -1);
	assert_string_equal(err, "a request needs a string \"cmd\"");
	json_decref(j);
	j = json_pack("{s:s, s:s}", "cmd", "x", "id", "1");
	assert_int_equal(proto_request(j, &cmd, &id, err, sizeof(err)), -1);
	json_decref(j);
	j = json_pack("{s:s, s:i}", "cmd", "x", "id", -4);
	assert_int_equal(proto_request(j, &cmd, &id, err, sizeof(err)), -1);
	json_decref(j);
}

static void
test_encode(void **state)
{
	json_t *j = json_pack("{s:s}", "path", "/a\nb");
	size_t len;
	char *s;

	(void)state;
	s = proto_encode(j, &len);
	/* One line: the newline inside the string is escaped. */
	assert_string_equal(s, "{\"path\":\"/a\\nb\"}\n");
	assert_int_equal(len, strlen(s));
	free(s);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_one_byte_at_a_time),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_encode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
