# ports.sh: free_port_pair, for the integration tests (tests/integration/lib.sh) and the
# benchmarks (scripts/bench-lib.sh), which source it.
# free_port_pair: a loopback port P with P+1 free too (a shared broker takes reports on P+1)
free_port_pair() {
	/usr/bin/python3 - <<'PY'
import socket
for _ in range(50):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1))
    except OSError:
        a.close(); continue
    a.close(); b.close(); print(p); break
PY
}
