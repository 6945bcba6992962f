/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * vhost-user wire format (QEMU docs/interop/vhost-user.rst): request codes,
 * the 12-byte header and the payload layouts we use. Shared by the backend
 * and by the test frontend simulator. All fields are host-endian (the
 * protocol is defined as native endianness over a Unix socket).
 */
#ifndef VDV_VHOST_USER_VU_PROTOCOL_H
#define VDV_VHOST_USER_VU_PROTOCOL_H

#include <stdint.h>

/*
 * Every request code, once: X(NAME, code) expands to VHOST_USER_NAME = code
 * in enum vu_request below and to the name table of vu_request_name().
 */
#define VHOST_USER_REQUESTS(X) \
	X(NONE, 0) \
	X(GET_FEATURES, 1) \
	X(SET_FEATURES, 2) \
	X(SET_OWNER, 3) \
	X(RESET_OWNER, 4) \
	X(SET_MEM_TABLE, 5) \
	X(SET_LOG_BASE, 6) \
	X(SET_LOG_FD, 7) \
	X(SET_VRING_NUM, 8) \
	X(SET_VRING_ADDR, 9) \
	X(SET_VRING_BASE, 10) \
	X(GET_VRING_BASE, 11) \
	X(SET_VRING_KICK, 12) \
	X(SET_VRING_CALL, 13) \
	X(SET_VRING_ERR, 14) \
	X(GET_PROTOCOL_FEATURES, 15) \
	X(SET_PROTOCOL_FEATURES, 16) \
	X(GET_QUEUE_NUM, 17) \
	X(SET_VRING_ENABLE, 18) \
	X(SEND_RARP, 19) \
	X(NET_SET_MTU, 20) \
	X(SET_BACKEND_REQ_FD, 21) \
	X(IOTLB_MSG, 22) \
	X(SET_VRING_ENDIAN, 23) \
	X(GET_CONFIG, 24) \
	X(SET_CONFIG, 25) \
	X(CREATE_CRYPTO_SESSION, 26) \
	X(CLOSE_CRYPTO_SESSION, 27) \
	X(POSTCOPY_ADVISE, 28) \
	X(POSTCOPY_LISTEN, 29) \
	X(POSTCOPY_END, 30) \
	X(GET_INFLIGHT_FD, 31) \
	X(SET_INFLIGHT_FD, 32) \
	X(GPU_SET_SOCKET, 33) \
	X(RESET_DEVICE, 34) \
	X(VRING_KICK, 35) \
	X(GET_MAX_MEM_SLOTS, 36) \
	X(ADD_MEM_REG, 37) \
	X(REM_MEM_REG, 38) \
	X(SET_STATUS, 39) \
	X(GET_STATUS, 40)

enum vu_request {
#define VU_REQUEST_ENUM(name, code) VHOST_USER_##name = code,
	VHOST_USER_REQUESTS(VU_REQUEST_ENUM)
#undef VU_REQUEST_ENUM
	VHOST_USER_MAX_REQUEST
};

/* Header flags. */
#define VHOST_USER_VERSION 0x1u
#define VHOST_USER_VERSION_MASK 0x3u
#define VHOST_USER_REPLY_MASK (1u << 2)
#define VHOST_USER_NEED_REPLY_MASK (1u << 3)

/* Virtio feature bit that says the protocol-features messages are usable. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

/* Protocol feature bits. */
#define VHOST_USER_PROTOCOL_F_MQ 0
#define VHOST_USER_PROTOCOL_F_LOG_SHMFD 1
#define VHOST_USER_PROTOCOL_F_RARP 2
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3
#define VHOST_USER_PROTOCOL_F_MTU 4
#define VHOST_USER_PROTOCOL_F_BACKEND_REQ 5
#define VHOST_USER_PROTOCOL_F_CROSS_ENDIAN 6
#define VHOST_USER_PROTOCOL_F_CRYPTO_SESSION 7
#define VHOST_USER_PROTOCOL_F_PAGEFAULT 8
#define VHOST_USER_PROTOCOL_F_CONFIG 9
#define VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD 10
#define VHOST_USER_PROTOCOL_F_HOST_NOTIFIER 11
#define VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD 12
#define VHOST_USER_PROTOCOL_F_RESET_DEVICE 13
#define VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS 14
#define VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15
#define VHOST_USER_PROTOCOL_F_STATUS 16

/* Limits. */
#define VHOST_USER_MAX_FDS 8           /* fds in one message (SCM_RIGHTS) */
#define VHOST_USER_MEM_MAX_REGIONS 8   /* SET_MEM_TABLE */
#define VHOST_USER_MAX_MEM_SLOTS 32    /* what GET_MAX_MEM_SLOTS reports */
#define VHOST_USER_MAX_CONFIG_SIZE 256
#define VHOST_USER_PAYLOAD_MAX 4096    /* larger payloads are rejected */

/* u64 payload for SET_VRING_KICK/CALL/ERR: low byte = index, bit 8 = no fd. */
#define VHOST_USER_VRING_IDX_MASK 0xffu
#define VHOST_USER_VRING_NOFD_MASK (1u << 8)

struct vu_msg_header {
	uint32_t request;
	uint32_t flags;
	uint32_t size;   /* payload bytes that follow */
} __attribute__((packed));

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;          /* bit 0: log the used ring */
	uint64_t desc_user_addr; /* frontend virtual addresses */
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
} __attribute__((packed));

struct vu_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
} __attribute__((packed));

struct vu_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vu_mem_region regions[VHOST_USER_MEM_MAX_REGIONS];
} __attribute__((packed));

/* ADD_MEM_REG / REM_MEM_REG payload: one region, with an fd for ADD. */
struct vu_mem_single_region {
	uint64_t padding;
	struct vu_mem_region region;
} __attribute__((packed));

struct vu_config_space {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VHOST_USER_MAX_CONFIG_SIZE];
} __attribute__((packed));

#define VU_CONFIG_HDR_SIZE 12u

/* A whole message as it travels, with a payload buffer large enough for any
 * request we accept. */
struct vu_msg {
	struct vu_msg_header hdr;
	union {
		uint64_t u64;
		struct vu_vring_state state;
		struct vu_vring_addr addr;
		struct vu_memory memory;
		struct vu_mem_single_region mem_reg;
		struct vu_config_space config;
		uint8_t raw[VHOST_USER_PAYLOAD_MAX];
	} payload;
} __attribute__((packed));

#endif
