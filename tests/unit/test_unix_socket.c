/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* unix_unlink_if_ours: our socket goes, anything put in its place stays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/unix_socket.h"

struct dir {
	char path[64];
	char sock[96];
};

static int setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	snprintf(d->path, sizeof(d->path), "/tmp/vdv-unix-XXXXXX");
	if (!mkdtemp(d->path)) {
		free(d);
		return -1;
	}
	snprintf(d->sock, sizeof(d->sock), "%s/s.sock", d->path);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;

	unlink(d->sock);
	rmdir(d->path);
	free(d);
	return 0;
}

static int listen_and_remember(struct dir *d, struct unix_path_id *id)
{
	char err[256];
	int fd = unix_listen(d->sock, err, sizeof(err));

	assert_true(fd >= 0);
	unix_path_remember(d->sock, id);
	assert_true(id->valid);
	return fd;
}

static void test_our_socket_is_removed(void **state)
{
	struct dir *d = *state;
	struct unix_path_id id;
	int fd = listen_and_remember(d, &id);

	assert_true(unix_unlink_if_ours(d->sock, &id));
	assert_int_equal(access(d->sock, F_OK), -1);
	close(fd);
}

static void test_replaced_by_file_stays(void **state)
{
	struct dir *d = *state;
	struct unix_path_id id;
	int fd = listen_and_remember(d, &id), f;

	assert_int_equal(unlink(d->sock), 0);
	f = open(d->sock, O_CREAT | O_WRONLY, 0600);
	assert_true(f >= 0);
	close(f);
	assert_false(unix_unlink_if_ours(d->sock, &id));
	assert_int_equal(access(d->sock, F_OK), 0);
	close(fd);
}

static void test_replaced_by_other_socket_stays(void **state)
{
	struct dir *d = *state;
	struct unix_path_id id;
	char err[256];
	int fd = listen_and_remember(d, &id), fd2;

	assert_int_equal(unlink(d->sock), 0);
	fd2 = unix_listen(d->sock, err, sizeof(err));
	assert_true(fd2 >= 0);
	assert_false(unix_unlink_if_ours(d->sock, &id));
	assert_int_equal(access(d->sock, F_OK), 0);
	close(fd);
	close(fd2);
}

static void test_never_remembered(void **state)
{
	struct dir *d = *state;
	struct unix_path_id id;

	unix_path_remember(d->sock, &id); /* nothing there yet */
	assert_false(id.valid);
	assert_false(unix_unlink_if_ours(d->sock, &id));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_our_socket_is_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_by_file_stays, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_by_other_socket_stays, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_never_remembered, setup, teardown),
	};

	return cmocka_run_group_tests_name("unix_socket", tests, NULL, NULL);
}
