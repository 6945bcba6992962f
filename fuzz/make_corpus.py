#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
"""Writes the seed corpora under fuzz/corpus/<target>/ (deterministic; run
again after changing an input format). Usage: make_corpus.py [OUTDIR]"""
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- fuzz_config_yaml ------------------------------------------------------
put("fuzz_config_yaml", "readme", """vms:
    - guest_cid: 4
      socket: /tmp/vhost4.socket
      uds_path: /tmp/vm4.vsock
      tx_buffer_size: 65536
      queue_size: 1024
      groups: group1+group2
    - guest_cid: 5
      socket: /tmp/vhost5.socket
      forward_cid: 1
      forward_listen: 9001+9002
""")
put("fuzz_config_yaml", "minimal", "vms:\n  - socket: /tmp/a.sock\n    uds-path: /tmp/a.vsock\n")
put("fuzz_config_yaml", "flow", '{vms: [{guest-cid: "0x10", socket: /s, uds_path: /u, group: g}]}\n')
put("fuzz_config_yaml", "dup_cid",
    "vms:\n  - {guest_cid: 3, socket: /a, uds_path: /ua}\n"
    "  - {guest_cid: 3, socket: /b, forward_cid: 1}\n")
put("fuzz_config_yaml", "anchors",
    "base: &b {socket: /x, uds_path: /y}\nvms:\n  - *b\n  - {guest_cid: 9, socket: /z, forward_cid: 1, queue_size: 256}\n")

# --- fuzz_config_args (NUL-separated, argv[0] is implied) ---------------------
args = {
    "single_uds": ["--guest-cid", "3", "--socket", "/srv/vdv/vm3.sock", "--uds-path", "/srv/vdv/vm3.vsock"],
    "single_fwd": ["--guest-cid=4", "--socket=/srv/a.sock", "--forward-cid=1",
                   "--forward-listen=9000+9001", "--tx-buffer-size", "0x10000", "--queue-size", "512"],
    "multi_vm": ["--vm", "guest-cid=4,socket=/srv/v4.socket,uds-path=/srv/vm4.vsock,groups=group1+group2",
                 "--vm", "guest-cid=5,socket=/srv/v5.socket,forward-cid=1,forward-listen=9001+9002"],
    "config": ["--config", "vm.yaml"],
    "help": ["--help"],
    "version": ["-V"],
    "mixed_error": ["--socket", "/srv/x", "--vm", "socket=/srv/y,uds-path=/srv/z"],
    "process_opts": ["--ready-fd", "5", "--exit-with-fd=0x3", "--log-level", "DEBUG", "--check",
                     "--print-config", "--vm", "socket=/srv/p.sock,uds-path=/srv/p.vsock"],
    "config_stdin": ["--config", "-", "--check"],
}
for name, a in args.items():
    put("fuzz_config_args", name, b"\0".join(s.encode() for s in a))

# --- fuzz_uds_connect -------------------------------------------------------
for name, line in {"plain": "CONNECT 1234", "lower_crlf": "connect 52\r",
                   "max": "CONNECT 4294967294", "spaces": "Connect   7"}.items():
    put("fuzz_uds_connect", name, line)

# --- fuzz_log_env (RUST_LOG / VDV_LOG / JOURNAL_STREAM values) ----------------
for name, value in {"bare": "debug", "ours": "warn,vhost_device_vsock=trace",
                    "module": "vhost_device_vsock::vhu_vsock=Debug/conn.*",
                    "others": "hyper=info,tokio", "bad_ours": "vhost_device_vsock=loud",
                    "journal": "8:12345", "off": "OFF"}.items():
    put("fuzz_log_env", name, value)

# --- fuzz_vring -------------------------------------------------------------
NEXT, WRITE, INDIRECT = 1, 2, 4
MEM_BASE = 0x10000  # gpa of memfd offset 0


def vring_input(flags, log2num, base, policy, descs, avail_ring, avail_idx,
                extra=(), used_idx=0, used_event=0):
    num = 1 << log2num
    mem = bytearray(0x10000)
    for i, (addr, ln, fl, nx) in enumerate(descs):
        struct.pack_into("<QIHH", mem, 0x0000 + 16 * i, addr, ln, fl, nx)
    struct.pack_into("<HH", mem, 0x1000, 0, avail_idx)
    for i, h in enumerate(avail_ring):
        struct.pack_into("<H", mem, 0x1004 + 2 * i, h)
    struct.pack_into("<H", mem, 0x1004 + 2 * num, used_event)
    struct.pack_into("<HH", mem, 0x2000, 0, used_idx)
    for off, blob in extra:
        mem[off:off + len(blob)] = blob
    # Trim trailing zeros: the harness zero-fills.
    end = len(mem)
    while end > 0 and mem[end - 1] == 0:
        end -= 1
    return bytes([flags, log2num]) + struct.pack("<H", base) + bytes([policy, 0, 0, 0]) + bytes(mem[:end])


def desc_table(entries):
    return b"".join(struct.pack("<QIHH", *e) for e in entries)


chain = [
    (0x13000, 44, NEXT, 1),            # header
    (0x13100, 100, 0, 0),              # payload
    (0x14000, 4096, WRITE, 0),         # rx buffer
    (0x12900, 32, INDIRECT, 0),        # indirect: 2 entries
]
indirect = desc_table([(0x16000, 44, NEXT, 1), (0x17f00, 0x200, WRITE, 0)])  # crosses region 0 -> 1
put("fuzz_vring", "tx_rx_indirect",
    vring_input(0x0b, 2, 0, 1, chain, [0, 2, 3], 3, extra=[(0x2900, indirect)]))
put("fuzz_vring", "event_idx_unpop",
    vring_input(0x1d | 0x20, 3, 65534, 3, chain, [2, 0, 3, 2], (65534 + 4) & 0xffff,
                extra=[(0x2900, indirect)], used_idx=7, used_event=1))
put("fuzz_vring", "loop",
    vring_input(0x00, 1, 0, 0, [(0x13000, 8, NEXT, 1), (0x13000, 8, NEXT, 0)], [0], 1))
put("fuzz_vring", "far_region",
    vring_input(0x02, 0, 0, 2, [(0x100000000, 0x2000, WRITE, 0)], [0], 1))

# --- fuzz_vu_msg ------------------------------------------------------------
(GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE) = (1, 2, 3, 4, 5)
(SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE, SET_VRING_KICK,
 SET_VRING_CALL, SET_VRING_ERR, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES,
 GET_QUEUE_NUM, SET_VRING_ENABLE) = range(8, 19)
GET_CONFIG, SET_CONFIG = 24, 25
GET_MAX_MEM_SLOTS, ADD_MEM_REG, REM_MEM_REG = 36, 37, 38
H_WRITE_MEM, H_KICK, H_RAW = 0xF0, 0xF1, 0xF2
V1, NEED_REPLY = 1, 1 << 3
MEMFD0, MEMFD1, EVFD = 0, 1, 2
UVA = 0x7F0000000000


def rec(req, payload=b"", flags=V1, fds=()):
    kinds = 0
    for i, k in enumerate(fds):
        kinds |= k << (2 * i)
    return struct.pack("<BBHBH", req, flags, len(payload), len(fds), kinds) + payload


def u64(v):
    return struct.pack("<Q", v)


def state(i, n):
    return struct.pack("<II", i, n)


def region(gpa, size, uva, off):
    return struct.pack("<QQQQ", gpa, size, uva, off)


def bit(n):
    return 1 << n


features = bit(32) | bit(29) | bit(28) | bit(30) | bit(0)   # VERSION_1, EVENT_IDX, INDIRECT, PROTOCOL_FEATURES, STREAM
proto = bit(0) | bit(3) | bit(9) | bit(15)


def ring_blob(q):
    """Queue q's rings at gpa q*0x10000 (+0 desc, +0x1000 avail, +0x2000 used),
    with two chains posted."""
    base = q * 0x10000
    descs = desc_table([(base + 0x4000, 44, NEXT, 1), (base + 0x4100, 64, 0, 0),
                        (base + 0x5000, 4096, WRITE, 0)])
    avail = struct.pack("<HHHH", 0, 2, 0, 2)
    return [(base, descs), (base + 0x1000, avail)]


def qemu_like(with_ack, kick_first):
    fl = V1 | (NEED_REPLY if with_ack else 0)
    # QEMU's order: SET_OWNER before anything that touches the device.
    s = rec(GET_FEATURES)
    s += rec(GET_PROTOCOL_FEATURES) + rec(SET_PROTOCOL_FEATURES, u64(proto))
    s += rec(GET_QUEUE_NUM) + rec(GET_MAX_MEM_SLOTS) + rec(SET_OWNER, flags=fl)
    s += rec(GET_CONFIG, struct.pack("<III", 0, 8, 0) + bytes(8))
    s += rec(SET_FEATURES, u64(features))
    s += rec(SET_MEM_TABLE, struct.pack("<II", 1, 0) + region(0, 0x100000, UVA, 0),
             flags=fl, fds=[MEMFD0])
    for q in range(3):
        for off, blob in ring_blob(q):
            s += rec(H_WRITE_MEM, bytes([0]) + struct.pack("<I", off) + blob)
    for q in range(3):
        b = q * 0x10000
        s += rec(SET_VRING_NUM, state(q, 256), flags=fl)
        s += rec(SET_VRING_BASE, state(q, 0), flags=fl)
        addr = struct.pack("<IIQQQQ", q, 0, UVA + b, UVA + b + 0x2000, UVA + b + 0x1000, 0)
        s += rec(SET_VRING_ADDR, addr, flags=fl)
        if kick_first:
            s += rec(SET_VRING_KICK, u64(q), flags=fl, fds=[EVFD])
            s += rec(SET_VRING_CALL, u64(q), flags=fl, fds=[EVFD])
        else:
            s += rec(SET_VRING_CALL, u64(q), flags=fl, fds=[EVFD])
            s += rec(SET_VRING_ERR, u64(q | 0x100), flags=fl)
            s += rec(SET_VRING_KICK, u64(q), flags=fl, fds=[EVFD])
        s += rec(SET_VRING_ENABLE, state(q, 1), flags=fl)
    s += rec(H_KICK, bytes([1]))
    s += rec(ADD_MEM_REG, u64(0) + region(0x200000, 0x10000, UVA + 0x200000, 0x1000),
             flags=fl, fds=[MEMFD1])
    s += rec(REM_MEM_REG, u64(0) + region(0x200000, 0x10000, UVA + 0x200000, 0x1000), flags=fl)
    for q in range(3):
        s += rec(GET_VRING_BASE, state(q, 0))
    s += rec(SET_CONFIG, struct.pack("<III", 0, 8, 0) + bytes(8), flags=fl)
    if with_ack:
        s += rec(RESET_OWNER)
    return s


put("fuzz_vu_msg", "qemu_ack", qemu_like(True, False))
put("fuzz_vu_msg", "qemu_noack", qemu_like(False, True))
put("fuzz_vu_msg", "no_protocol_features",
    rec(GET_FEATURES) + rec(SET_OWNER) + rec(SET_FEATURES, u64(bit(32))) +
    rec(SET_MEM_TABLE, struct.pack("<II", 2, 0) + region(0, 0x80000, UVA, 0) +
        region(0x80000, 0x80000, UVA + 0x80000, 0), fds=[MEMFD0, MEMFD1]) +
    b"".join(rec(H_WRITE_MEM, bytes([0]) + struct.pack("<I", o) + blob) for o, blob in ring_blob(1)) +
    rec(SET_VRING_NUM, state(1, 256)) +
    rec(SET_VRING_ADDR, struct.pack("<IIQQQQ", 1, 0, UVA + 0x10000, UVA + 0x12000, UVA + 0x11000, 0)) +
    rec(SET_VRING_KICK, u64(1), fds=[EVFD]))


def wire(req, payload=b"", flags=V1):
    """A message as it travels on the socket."""
    return struct.pack("<III", req, flags, len(payload)) + payload


def raw(records, piece):
    """The same input with every message sent as raw bytes (H_RAW) in pieces
    of `piece` bytes, its fds with the first; harness actions stay."""
    out, off = b"", 0
    while off < len(records):
        req, flags, size, nfds, kinds = struct.unpack_from("<BBHBH", records, off)
        payload = records[off + 7:off + 7 + size]
        off += 7 + size
        if req in (H_WRITE_MEM, H_KICK):
            out += struct.pack("<BBHBH", req, flags, size, nfds, kinds) + payload
        else:
            m = wire(req, payload, flags)
            out += struct.pack("<BBHBH", H_RAW, piece, len(m), nfds, kinds) + m
    return out


put("fuzz_vu_msg", "raw_qemu_ack", raw(qemu_like(True, False), 5))
put("fuzz_vu_msg", "raw_qemu_noack", raw(qemu_like(False, True), 1))
# Several messages in one piece, one cut across two records (a kick between
# its halves), then a header with a bad version in the middle of a piece.
burst = wire(GET_FEATURES) + wire(SET_OWNER) + wire(GET_QUEUE_NUM) + wire(SET_FEATURES, u64(bit(32)))
cut = wire(SET_VRING_CALL, u64(1))
put("fuzz_vu_msg", "raw_burst",
    struct.pack("<BBHBH", H_RAW, 0, len(burst), 0, 0) + burst +
    struct.pack("<BBHBH", H_RAW, 3, 7, 1, EVFD) + cut[:7] +
    rec(H_KICK, bytes([1])) +
    struct.pack("<BBHBH", H_RAW, 0, len(cut) - 7, 0, 0) + cut[7:] +
    struct.pack("<BBHBH", H_RAW, 4, 24, 0, 0) + wire(GET_FEATURES) + wire(GET_FEATURES, flags=2))
put("fuzz_vu_msg", "bad_messages",
    rec(99) + rec(SET_FEATURES, u64(1 << 63)) + rec(SET_VRING_NUM, state(7, 3)) +
    rec(GET_CONFIG, struct.pack("<III", 4, 8, 0) + bytes(8)) + rec(SET_OWNER, fds=[EVFD, MEMFD0]))

# --- fuzz_vsock_tx ----------------------------------------------------------
REQUEST, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST = range(1, 8)


def pkt(op, sport, dport, payload=b"", src=3, dst=2, flags=0, typ=1, buf_alloc=65536, fwd=0):
    return struct.pack("<QQIIIHHIII", src, dst, sport, dport, len(payload), typ, op, flags,
                       buf_alloc, fwd) + payload


def vsock_input(log2num, flags, rounds, packets, split=()):
    mem = bytearray(0x10000)
    descs, heads = [], []
    for i, p in enumerate(packets):
        addr = 0x4000 + 0x100 * i
        mem[addr:addr + len(p)] = p
        heads.append(len(descs))
        if i in split and len(p) > 44:      # header and payload in two descriptors
            descs.append((addr, 44, NEXT, len(descs) + 1))
            descs.append((addr + 44, len(p) - 44, 0, 0))
        else:
            descs.append((addr, len(p), 0, 0))
    for i, e in enumerate(descs):
        struct.pack_into("<QIHH", mem, 16 * i, *e)
    struct.pack_into("<HH", mem, 0x1000, 0, len(heads))
    for i, h in enumerate(heads):
        struct.pack_into("<H", mem, 0x1004 + 2 * i, h)
    end = 0x4000 + 0x100 * len(packets)
    return bytes([log2num, flags, rounds, 0]) + bytes(mem[:end])


put("fuzz_vsock_tx", "connect_rw_close", vsock_input(5, 0x05, 2, [
    pkt(REQUEST, 1000, 1234),
    pkt(RW, 1000, 1234, b"hello host"),
    pkt(RW, 1000, 1234, b"more data, split"),
    pkt(CREDIT_REQUEST, 1000, 1234),
    pkt(CREDIT_UPDATE, 1000, 1234, fwd=15),
    pkt(SHUTDOWN, 1000, 1234, flags=3),
    pkt(RST, 1000, 1234),
], split=(2,)))
put("fuzz_vsock_tx", "refused_inprogress_spoofed", vsock_input(4, 0x03, 3, [
    pkt(REQUEST, 2000, 1236),          # refused (port % 3 == 0)
    pkt(REQUEST, 2001, 1235),          # in progress
    pkt(RW, 2001, 1235, b"early"),
    pkt(REQUEST, 2002, 1234, src=7),   # spoofed source
    pkt(RW, 2003, 99, b"x", typ=2),    # seqpacket: not negotiated here
    pkt(RESPONSE, 2004, 1234),         # no such connection
    pkt(REQUEST, 2005, 5000, dst=9),   # another CID
]))


# SEQPACKET negotiated (flags bit 4): whole messages, a message in parts,
# EOR, a STREAM packet on a SEQPACKET connection, a zero-length EOM, and
# host messages (bit 2) read back; then with the flags byte (bit 5).
EOM, EOR = 1, 2
for name, fl in (("seqpacket_messages", 0x15), ("seqpacket_flags_byte", 0x35)):
    put("fuzz_vsock_tx", name, vsock_input(5, fl, 3, [
        pkt(REQUEST, 4000, 1234, typ=2),
        pkt(RW, 4000, 1234, b"one", typ=2, flags=EOM),
        pkt(RW, 4000, 1234, b"two, in ", typ=2),
        pkt(RW, 4000, 1234, b"parts", typ=2, flags=EOM | EOR),
        pkt(RW, 4000, 1234, b"stream?", typ=1),
        pkt(RW, 4000, 1234, b"", typ=2, flags=EOM),
        pkt(SHUTDOWN, 4000, 1234, typ=2, flags=1),
        pkt(REQUEST, 4001, 1235, typ=2, buf_alloc=8),
        pkt(SHUTDOWN, 4000, 1234, typ=2, flags=3),
    ], split=(2,)))


def vsock_input_rx(log2num, flags, rounds, packets, rx_bufs):
    """Like vsock_input, with the rx ring written by the input (flags bit 3):
    rx_bufs is a list of (addr, len, flags) single-descriptor buffers."""
    mem = bytearray(vsock_input(log2num, flags | 8, rounds, packets)[4:])
    mem += bytes(0x10000 - len(mem))
    for i, (addr, ln, fl) in enumerate(rx_bufs):
        struct.pack_into("<QIHH", mem, 0x3000 + 16 * i, addr, ln, fl, 0)
    struct.pack_into("<HH", mem, 0x3400, 0, len(rx_bufs))
    for i in range(len(rx_bufs)):
        struct.pack_into("<H", mem, 0x3404 + 2 * i, i)
    end = max(0x3404 + 2 * len(rx_bufs), 0x4000 + 0x100 * len(packets))
    return bytes([log2num, flags | 8, rounds, 0]) + bytes(mem[:end])


# The RESPONSE takes the first rx buffer; then host data waits while the
# guest offers a header-only buffer (which once made the rx path spin for
# ever), a read-only one and a proper one.
put("fuzz_vsock_tx", "rx_header_only", vsock_input_rx(4, 0x05, 3, [
    pkt(REQUEST, 3000, 1234),
    pkt(RW, 3000, 1234, b"ping"),
], [(0xe000, 300, 2), (0xe100, 44, 2), (0xe200, 300, 0), (0xe300, 300, 2)]))


# --- fuzz_conn ---------------------------------------------------------------
# [mode][buf_alloc u32] then events (see fuzz/fuzz_conn.c step()).
def conn_guest(op, flags=0, ln=0, buf_alloc=262144, big=False):
    return bytes([0, op, flags]) + struct.pack("<HB", ln, 1 if big else 0) + \
        struct.pack("<I", buf_alloc) + bytes(3)


def conn_rx(want, emptied=False):
    return bytes([9]) + struct.pack("<HB", want, 1 if emptied else 0)


put("fuzz_conn", "guest_request_flow", bytes([1]) + struct.pack("<I", 65535) +
    conn_rx(0) + conn_guest(5, ln=1000) + bytes([2, 4]) + bytes([3, 0]) +
    conn_rx(4096, True) + conn_guest(6) + conn_guest(4, flags=1) +
    bytes([2, 255]) + conn_guest(4, flags=3) + conn_rx(0))
put("fuzz_conn", "host_offer_flow", bytes([0]) + struct.pack("<I", 4095) +
    conn_rx(0) + conn_guest(2) + bytes([3, 1]) + conn_rx(60000) +
    bytes([5, 1]) + conn_rx(0) + conn_guest(5, ln=4000) + bytes([2, 20]) +
    bytes([5, 0]) + conn_rx(0))
put("fuzz_conn", "connect_timeout", bytes([2]) + struct.pack("<I", 65535) +
    bytes([8, 1]) + conn_rx(0))
put("fuzz_conn", "connect_then_credit", bytes([2]) + struct.pack("<I", 65535) +
    bytes([10, 3]) + conn_rx(0) + conn_guest(5, ln=65535) + conn_guest(5, ln=1) +
    conn_rx(0))
put("fuzz_conn", "closing_flush", bytes([1]) + struct.pack("<I", 8191) +
    conn_rx(0) + conn_guest(5, ln=8000) + conn_guest(4, flags=3) + bytes([8, 0]) +
    bytes([2, 10]) + bytes([8, 2]) + conn_rx(0))
put("fuzz_conn", "zero_credit", bytes([1]) + struct.pack("<I", 65535) +
    conn_rx(0) + conn_guest(6, buf_alloc=16) + bytes([3, 0]) + conn_rx(100) +
    conn_rx(100) + conn_guest(7) + conn_rx(0) + conn_guest(6, buf_alloc=4096) +
    conn_rx(4096))

# The socket lends 64 KiB of headroom, an update gives the guest twice the
# buffer, the headroom goes, the guest still fills the promise exactly,
# then one byte more resets.
put("fuzz_conn", "headroom_lent", bytes([1]) + struct.pack("<I", 65535) +
    conn_rx(0) + bytes([11]) + struct.pack("<I", 65536) + conn_guest(5, ln=60000) +
    bytes([2, 255]) + conn_rx(0) + bytes([11]) + struct.pack("<I", 0) +
    conn_guest(5, ln=65535) + conn_guest(5, ln=65535) + bytes([2, 0]) + conn_rx(0) +
    conn_guest(5, ln=3) + conn_rx(0))

# --- fuzz_msgbuf -------------------------------------------------------------
# [payload_max-1 u16] then ops: 0 append [len u16][off][split][eom|flags<<1],
# 1 front+pop, 2 clear, 3 trim, 4 front.
def mb_append(ln, off=0, split=0, eom=True, flags=1):
    return bytes([0]) + struct.pack("<HBBB", ln, off, split, (flags << 1) | eom)


put("fuzz_msgbuf", "parts", struct.pack("<H", 65535) + mb_append(100, 2, 40, False) +
    mb_append(300, 0, 7, True) + bytes([4, 1]) + mb_append(0) + bytes([1, 3]))
put("fuzz_msgbuf", "full", struct.pack("<H", 4095) + mb_append(4000) + mb_append(200) +
    bytes([1]) + mb_append(200) + bytes([1, 1, 3]))
put("fuzz_msgbuf", "many_small", struct.pack("<H", 1023) + mb_append(1) * 260 +
    bytes([1]) * 10 + bytes([2, 3]))
