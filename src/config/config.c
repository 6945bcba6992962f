/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* Releasing parsed configurations; the --sandbox names. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

void vm_config_free(struct vm_config *vm)
{
	size_t i;

	free(vm->socket);
	free(vm->uds_path);
	free(vm->forward_listen);
	free(vm->forward_listen_seqpacket);
	if (vm->groups)
		for (i = 0; i < vm->n_groups; i++)
			free(vm->groups[i]);
	free(vm->groups);
	free(vm->socket_group);
	free(vm->socket_fd_path);
	memset(vm, 0, sizeof(*vm));
}

void config_opts_init(struct vdv_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ready_fd = -1;
	o->exit_with_fd = -1;
	o->log_level = LOG_INFO;
	o->tx_buffer_budget_total = VDV_DEFAULT_TX_BUFFER_BUDGET_TOTAL;
}

void config_free(struct vdv_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_vms; i++)
		vm_config_free(&cfg->vms[i]);
	free(cfg->vms);
	cfg->vms = NULL;
	cfg->n_vms = 0;
}

static const char *const sandbox_names[] = {
	[VDV_SANDBOX_SECCOMP] = "seccomp",
	[VDV_SANDBOX_NONE] = "none",
};

int config_sandbox_parse(const char *text, enum vdv_sandbox *out)
{
	for (size_t i = 0; i < sizeof(sandbox_names) / sizeof(sandbox_names[0]); i++) {
		if (strcmp(text, sandbox_names[i]) == 0) {
			*out = (enum vdv_sandbox)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *config_sandbox_name(enum vdv_sandbox mode)
{
	return (unsigned)mode < sizeof(sandbox_names) / sizeof(sandbox_names[0])
		       ? sandbox_names[mode]
		       : "?";
}
