# SPDX-License-Identifier: MIT
"""soak_load.py — the load and the sampling of bench/soak.sh.

Chat-style load on a chat server at 127.0.0.1:PORT (examples/chat_server):
CLIENTS connections, each sending lines that the server broadcasts to the
others, every client reading all it is sent; connections reset at random
(SO_LINGER 0, so the close is an RST, some in the middle of a line) and
replaced at once. Every INTERVAL seconds the load stops for a quiet point:
every client closes, and once the server's descriptor count has settled
the server's RSS and descriptors are sampled from /proc/PID. Then the load
resumes. After DURATION seconds it prints the table and exits non-zero if
the server did not stay flat:

  - descriptors: at every quiet point, the count of the first one (all
    connections closed: the listener and the loop's own);
  - RSS: no sample more than max(RSS_PCT % of the first, RSS_KIB KiB) above
    the first (the first quiet point comes after a whole interval of load,
    so the allocator's start-up growth is behind it).

Loopback only; bounded by DURATION (plus a few seconds per quiet point).

  python3 soak_load.py PID PORT DURATION INTERVAL
"""
import os
import random
import selectors
import socket
import struct
import sys
import time

CLIENTS = 40
LINES_PER_SECOND = 1000
RESETS_PER_SECOND = 20
RSS_PCT = 5.0
RSS_KIB = 1024
SETTLE_SECONDS = 10


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Load:
    def __init__(self, port, rng):
        self.port = port
        self.rng = rng
        self.sel = selectors.DefaultSelector()
        self.clients = []
        self.sent = self.received = self.resets = 0

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ)
        self.clients.append(s)

    def drop(self, s, reset):
        self.sel.unregister(s)
        self.clients.remove(s)
        if reset:
            # An RST instead of a FIN: the server's read fails mid-stream.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    def send_line(self, s):
        n = self.rng.choice((1, 20, 80, 200, 700))  # 700: past the server's line limit
        line = b"x" * self.rng.randrange(n) + b"\n"
        try:
            s.send(line)
            self.sent += 1
        except (BlockingIOError, ConnectionError):
            pass  # a full buffer or a reset: the line is not counted

    def read_all(self, timeout):
        for key, _ in self.sel.select(timeout):
            try:
                data = key.fileobj.recv(65536)
            except (BlockingIOError, ConnectionError):
                continue
            self.received += data.count(b"\n")

    def run(self, seconds):
        """The load, for `seconds`: lines and resets at their rates."""
        while len(self.clients) < CLIENTS:
            self.connect()
        # Paced by the clock, not by how fast the server answers: the lines
        # and resets due by now, at their rates.
        t0 = time.monotonic()
        end = t0 + seconds
        lines = resets = 0
        while (now := time.monotonic()) < end:
            while lines < (now - t0) * LINES_PER_SECOND:
                self.send_line(self.rng.choice(self.clients))
                lines += 1
            while resets < (now - t0) * RESETS_PER_SECOND:
                s = self.rng.choice(self.clients)
                if self.rng.random() < 0.5:
                    try:
                        s.send(b"half a line, then")  # reset inside a line
                    except (BlockingIOError, ConnectionError):
                        pass
                self.drop(s, reset=True)
                self.resets += 1
                resets += 1
                self.connect()
            self.read_all(0.005)

    def quiet(self):
        """Every client leaves: half of them by reset, half by close."""
        for i, s in enumerate(list(self.clients)):
            self.drop(s, reset=i % 2 == 0)


def main():
    pid, port, duration, interval = (int(a) for a in sys.argv[1:5])
    rng = random.Random(1234)
    load = Load(port, rng)
    rows = []
    start = time.monotonic()
    ok = True
    while time.monotonic() - start < duration:
        load.run(min(interval, duration - (time.monotonic() - start)))
        load.quiet()
        # Let the server see every close: its count falls to the first
        # quiet point's (or, at the first, stops changing).
        want = rows[0]["fds"] if rows else None
        deadline = time.monotonic() + SETTLE_SECONDS
        fds = open_fds(pid)
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = open_fds(pid)
            if (want is not None and now == want) or (want is None and now == fds):
                fds = now
                break
            fds = now
        rows.append({"t": time.monotonic() - start, "rss": rss_kib(pid), "fds": fds,
                     "sent": load.sent, "received": load.received, "resets": load.resets})
        print(f"soak: {rows[-1]['t']:5.0f} s  rss {rows[-1]['rss']} KiB  fds {fds}", flush=True)

    first = rows[0]
    bound = max(first["rss"] * RSS_PCT / 100, RSS_KIB)
    print()
    print(f"{'time s':>7} {'RSS KiB':>9} {'growth':>8} {'fds':>5} {'lines sent':>11}"
          f" {'lines recv':>11} {'resets':>7}")
    prev = {"sent": 0, "received": 0, "resets": 0}
    for r in rows:
        print(f"{r['t']:7.0f} {r['rss']:9d} {r['rss'] - first['rss']:+8d} {r['fds']:5d}"
              f" {r['sent'] - prev['sent']:11d} {r['received'] - prev['received']:11d}"
              f" {r['resets'] - prev['resets']:7d}")
        prev = r
    worst = max(r["rss"] for r in rows) - first["rss"]
    print()
    print(f"RSS: first {first['rss']} KiB, at most {worst:+d} KiB above it"
          f" (bound {bound:.0f} KiB: max({RSS_PCT:.0f} %, {RSS_KIB} KiB))")
    if worst > bound:
        print("soak: FAIL: the server's RSS grew")
        ok = False
    stray = [r for r in rows if r["fds"] != first["fds"]]
    print(f"descriptors at quiet points: {sorted(set(r['fds'] for r in rows))}"
          f" (all must equal the first, {first['fds']})")
    if stray:
        print("soak: FAIL: descriptors not back to the baseline at a quiet point")
        ok = False
    for a, b in zip([{"received": 0}] + rows, rows):
        if b["received"] == a["received"]:
            print(f"soak: FAIL: no line came back in the interval ending at {b['t']:.0f} s")
            ok = False
    print(f"soak: {'ok' if ok else 'FAILED'}: {load.sent} lines sent, {load.received}"
          f" received, {load.resets} resets in {time.monotonic() - start:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
