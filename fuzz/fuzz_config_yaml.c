/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* config_parse_yaml_string() on arbitrary bytes: never crashes or leaks; a
 * successful parse yields a config that satisfies the documented rules. */
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

		FUZZ_ASSERT(vm->socket && vm->socket[0]);
		FUZZ_ASSERT(!!vm->uds_path != vm->has_forward_cid);
		FUZZ_ASSERT(vm->n_groups >= 1 && vm->groups);
		for (size_t g = 0; g < vm->n_groups; g++)
			FUZZ_ASSERT(vm->groups[g] && vm->groups[g][0]);
		FUZZ_ASSERT(vm->n_forward_listen == 0 || vm->forward_listen);
		FUZZ_ASSERT(vm->tx_buffer_size >= VDV_MIN_TX_BUFFER_SIZE &&
			    vm->tx_buffer_size <= VDV_MAX_TX_BUFFER_SIZE);
		FUZZ_ASSERT(vm->queue_size >= 1 && vm->queue_size <= VDV_MAX_QUEUE_SIZE &&
			    !(vm->queue_size & (vm->queue_size - 1)));
	}
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
