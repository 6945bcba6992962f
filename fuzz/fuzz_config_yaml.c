/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* config_parse_yaml_string() on arbitrary bytes: never crashes or leaks; a
 * successful parse yields a config that satisfies the documented rules, and
 * --print-config's YAML of it parses back and prints the same (or the
 * printer refuses a value that is not UTF-8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_quiet_logs();
	return 0;
}

static void check_config(const struct vdv_config *cfg)
{
	FUZZ_ASSERT(cfg->n_vms >= 1 && cfg->vms);
	for (size_t i = 0; i < cfg->n_vms; i++) {
		const struct vm_config *vm = &cfg->vms[i];

		FUZZ_ASSERT(vm->has_socket_fd ? !vm->socket : vm->socket && vm->socket[0]);
		FUZZ_ASSERT(!!vm->uds_path != vm->has_forward_cid);
		FUZZ_ASSERT(vm->n_groups >= 1 && vm->groups);
		for (size_t g = 0; g < vm->n_groups; g++)
			FUZZ_ASSERT(vm->groups[g] && vm->groups[g][0]);
		FUZZ_ASSERT(vm->n_forward_listen == 0 || vm->forward_listen);
		FUZZ_ASSERT(vm->n_forward_listen_seqpacket == 0 || vm->forward_listen_seqpacket);
		FUZZ_ASSERT(vm->has_forward_cid ||
			    (!vm->n_forward_listen && !vm->n_forward_listen_seqpacket));
		FUZZ_ASSERT(vm->tx_buffer_size >= VDV_MIN_TX_BUFFER_SIZE &&
			    vm->tx_buffer_size <= VDV_MAX_TX_BUFFER_SIZE);
		FUZZ_ASSERT(vm->queue_size >= 1 && vm->queue_size <= VDV_MAX_QUEUE_SIZE &&
			    !(vm->queue_size & (vm->queue_size - 1)));
		FUZZ_ASSERT(vm->max_connections >= 1 &&
			    vm->max_connections <= VDV_MAX_MAX_CONNECTIONS);
		FUZZ_ASSERT(vm->guest_reserved_connections <= vm->max_connections);
		FUZZ_ASSERT(vm->max_host_handshakes >= 1 &&
			    vm->max_host_handshakes <= vm->max_connections);
		FUZZ_ASSERT(vm->max_sibling_connections >= 1 &&
			    vm->max_sibling_connections <= vm->max_connections);
		FUZZ_ASSERT(vm->tx_buffer_budget >=
				    (uint64_t)vm->max_connections * VDV_TX_BUFFER_FLOOR &&
			    vm->tx_buffer_budget <= VDV_MAX_TX_BUFFER_BUDGET);
	}
}

/* print -> parse -> print: the same text. */
static void check_print(const struct vdv_config *cfg)
{
	char *t1 = NULL, *t2 = NULL, err[256];
	size_t l1 = 0, l2 = 0;
	struct vdv_config again = { 0 };
	FILE *f = open_memstream(&t1, &l1);
	int r;

	if (!f)
		return;
	r = config_print_yaml(cfg, f, err, sizeof(err));
	fclose(f);
	if (r == 0) {
		FUZZ_ASSERT(config_parse_yaml_string(t1, l1, &again, err, sizeof(err)) == CONFIG_OK);
		FUZZ_ASSERT(again.n_vms == cfg->n_vms);
		f = open_memstream(&t2, &l2);
		if (f) {
			FUZZ_ASSERT(config_print_yaml(&again, f, err, sizeof(err)) == 0);
			fclose(f);
			FUZZ_ASSERT(l1 == l2 && memcmp(t1, t2, l1) == 0);
		}
		config_free(&again);
	} else {
		FUZZ_ASSERT(err[0] && !strchr(err, '\n'));
	}
	free(t1);
	free(t2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdv_config cfg = { 0 };
	char err[256];
	/* An exact-size copy, without a terminating NUL: the parser must
	 * honour len (ASan catches a read past it). */
	char *text = malloc(size ? size : 1);
	enum config_result r;

	if (!text)
		return 0;
	memcpy(text, data, size);
	err[0] = '\0';
	r = config_parse_yaml_string(text, size, &cfg, err, sizeof(err));
	if (r == CONFIG_OK) {
		check_config(&cfg);
		check_print(&cfg);
		config_free(&cfg);
	} else {
		FUZZ_ASSERT(r == CONFIG_ERROR);
		FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) && err[0]);
		FUZZ_ASSERT(!strchr(err, '\n'));
		FUZZ_ASSERT(cfg.n_vms == 0 && !cfg.vms);
	}
	free(text);
	return 0;
}
