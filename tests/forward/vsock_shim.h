/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * The names the AF_VSOCK-over-AF_UNIX LD_PRELOAD shim (vsock_shim.c) and
 * the programs that load it share: its environment and its one exported
 * function. See vsock_shim.c for what the shim does.
 */
#ifndef VDV_TESTS_FORWARD_VSOCK_SHIM_H
#define VDV_TESTS_FORWARD_VSOCK_SHIM_H

/* The directory that holds the shim's sockets, one per bound vsock
 * address: "<dir>/<cid>.<port>". Unset: AF_VSOCK fails (EAFNOSUPPORT). */
#define VDV_VSOCK_SHIM_DIR_ENV "VDV_VSOCK_SHIM_DIR"
/* The shim's local CID (what VMADDR_CID_ANY and an implicit bind mean, and
 * what IOCTL_VM_SOCKETS_GET_LOCAL_CID returns); default 1, vsock_loopback's. */
#define VDV_VSOCK_SHIM_CID_ENV "VDV_VSOCK_SHIM_CID"
/* Non-empty: MSG_PEEK on a SOCK_SEQPACKET socket fails with ENOMEM, as on
 * Linux before 6.3 (whose vsock cannot peek a SEQPACKET message). */
#define VDV_VSOCK_SHIM_NO_SEQ_PEEK_ENV "VDV_VSOCK_SHIM_NO_SEQ_PEEK"
/* Non-empty: print the shim's counters to stderr at exit. */
#define VDV_VSOCK_SHIM_STATS_ENV "VDV_VSOCK_SHIM_STATS"

/* Exported by the shim: 1. Look it up with dlsym(RTLD_DEFAULT, ...) to know
 * whether the shim is loaded. */
#define VDV_VSOCK_SHIM_ACTIVE_SYM "vdv_vsock_shim_active"
int vdv_vsock_shim_active(void);

#endif
