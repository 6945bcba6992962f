#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
"""Host side of test-garbage.sh: garbage on the daemon's hybrid vsock socket
while a transfer runs on another connection.

  uds-garbage.py UDS_PATH PORT PAYLOAD RECV_OUT [--timeout S]

1. Connects to UDS_PATH, writes "CONNECT PORT", waits for "OK <n>".
2. Sends PAYLOAD (a file) and receives into RECV_OUT at the same time.
   While the garbage clients run, both directions are paced (64 KiB every
   20 ms) so that the transfer is busy for the whole garbage window, and the
   last MiB is held back until the garbage is done.
3. Garbage clients, all at once, each on its own connection to UDS_PATH:
   random bytes, an overlong line, "CONNECT abc", ... and one that sends
   nothing.  Each must be closed by the daemon (EOF or reset) without a
   reply within the timeout.
4. Finishes the transfer: SHUT_WR after the payload, read to EOF.

Output lines (stdout):
  DATA CONNECTED <reply>
  GARBAGE <name> CLOSED <ms> | OPEN <ms> | REPLIED <ms> <first bytes>
  DATA DURING-GARBAGE SENT <bytes> RECV <bytes>
  DATA SENT <bytes>
  DATA RECV <bytes>
  DATA ERROR <what>
Exit status: 0 when the transfer finished (the caller checks the rest),
1 otherwise.  Every wait is bounded by --timeout.
"""
import os
import socket
import sys
import threading
import time

CHUNK = 64 * 1024
PACE_S = 0.02
HOLD_BACK = 1024 * 1024


def now_ms():
    return int(time.monotonic() * 1000)


def garbage_cases():
    return [
        ("random-bytes", os.urandom(4096), False),
        ("overlong-line", b"CONNECT " + b"9" * 200 + b"\n", False),
        ("overlong-no-newline", b"A" * 100, False),
        ("connect-abc", b"CONNECT abc\n", False),
        ("port-out-of-range", b"CONNECT 4294967296\n", False),
        ("empty-line", b"\n", False),
        ("wrong-verb", b"LISTEN 1234\n", False),
        ("eof-mid-line", b"CONNECT 12", True),
        ("nul-bytes", b"CONNECT \x00\x00\x001234\n", False),
        ("flood-1MiB", os.urandom(1024 * 1024), False),
        ("silent", b"", False),
    ]


def run_garbage(path, name, data, shut_wr, limit_s, results):
    """One garbage client; records (verdict, ms, excerpt)."""
    t0 = now_ms()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(limit_s)
    got = b""
    try:
        s.connect(path)
        if data:
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the daemon closed first: fine
        if shut_wr:
            s.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + limit_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                results[name] = ("OPEN", now_ms() - t0, got)
                return
            s.settimeout(left)
            try:
                b = s.recv(4096)
            except ConnectionResetError:
                b = b""
            except socket.timeout:
                results[name] = ("OPEN", now_ms() - t0, got)
                return
            if not b:
                verdict = "REPLIED" if got else "CLOSED"
                results[name] = (verdict, now_ms() - t0, got)
                return
            got += b
    except OSError as e:
        results[name] = ("ERROR", now_ms() - t0, str(e).encode())
    finally:
        s.close()


def main():
    args = sys.argv[1:]
    timeout = 60.0
    if "--timeout" in args:
        i = args.index("--timeout")
        timeout = float(args[i + 1])
        del args[i:i + 2]
    if len(args) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    path, port, payload_file, recv_out = args[0], int(args[1]), args[2], args[3]
    with open(payload_file, "rb") as f:
        payload = f.read()
    deadline = time.monotonic() + timeout

    data = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    data.settimeout(timeout)
    data.connect(path)
    data.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        b = data.recv(1)
        if not b:
            print("DATA ERROR closed before the OK line (got %r)" % line, flush=True)
            return 1
        line += b
    print("DATA CONNECTED %s" % line.decode(errors="replace").strip(), flush=True)
    if not line.startswith(b"OK "):
        print("DATA ERROR unexpected reply", flush=True)
        return 1

    garbage_running = threading.Event()
    garbage_running.set()
    garbage_done = threading.Event()
    counts = {"sent": 0, "recv": 0, "sent_during": 0, "recv_during": 0}
    errors = []

    def sender():
        try:
            off = 0
            while off < len(payload):
                if garbage_running.is_set():
                    if len(payload) - off <= HOLD_BACK:
                        garbage_done.wait(max(0.0, deadline - time.monotonic()))
                    else:
                        time.sleep(PACE_S)
                n = min(CHUNK, len(payload) - off)
                data.sendall(payload[off:off + n])
                off += n
                counts["sent"] = off
                if garbage_running.is_set():
                    counts["sent_during"] += n
            data.shutdown(socket.SHUT_WR)
        except OSError as e:
            errors.append("send: %s" % e)

    def receiver():
        try:
            with open(recv_out, "wb") as out:
                while True:
                    if garbage_running.is_set():
                        time.sleep(PACE_S)
                    b = data.recv(CHUNK)
                    if not b:
                        return
                    out.write(b)
                    counts["recv"] += len(b)
                    if garbage_running.is_set():
                        counts["recv_during"] += len(b)
        except OSError as e:
            errors.append("recv: %s" % e)

    ts = threading.Thread(target=sender, daemon=True)
    tr = threading.Thread(target=receiver, daemon=True)
    ts.start()
    tr.start()
    time.sleep(0.2)  # let data flow before the garbage starts

    results = {}
    gs = []
    for name, payload_bytes, shut in garbage_cases():
        t = threading.Thread(target=run_garbage,
                             args=(path, name, payload_bytes, shut, 8.0, results),
                             daemon=True)
        t.start()
        gs.append(t)
    for t in gs:
        t.join(max(0.0, deadline - time.monotonic()))
    garbage_running.clear()
    garbage_done.set()
    for name, _, _ in garbage_cases():
        verdict, ms, got = results.get(name, ("OPEN", -1, b""))
        extra = ""
        if got:
            extra = " " + repr(got[:40])
        print("GARBAGE %s %s %d%s" % (name, verdict, ms, extra), flush=True)
    print("DATA DURING-GARBAGE SENT %d RECV %d" % (counts["sent_during"], counts["recv_during"]),
          flush=True)

    ts.join(max(0.0, deadline - time.monotonic()))
    tr.join(max(0.0, deadline - time.monotonic()))
    if ts.is_alive() or tr.is_alive():
        errors.append("transfer not finished within %gs" % timeout)
    print("DATA SENT %d" % counts["sent"], flush=True)
    print("DATA RECV %d" % counts["recv"], flush=True)
    for e in errors:
        print("DATA ERROR %s" % e, flush=True)
    data.close()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
