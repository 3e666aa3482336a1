# Sourced by the benchmarks: starts the OTLP test receiver (Tests/Receivers/otlp_receiver.py)
# in --count-only mode on loopback, stops it on exit, and sets rx (its pid), rx_dir (its
# counts file is $rx_dir/counts), gport and hport. Needs grpcio and opentelemetry-proto.
start_receiver() {
    rx_dir=$(mktemp -d)
    python3 Tests/Receivers/otlp_receiver.py --count-only --out "$rx_dir/counts" --ready "$rx_dir/ready" &
    rx=$!
    trap 'kill $rx 2>/dev/null; rm -rf "$rx_dir"' EXIT
    for _ in $(seq 100); do [ -s "$rx_dir/ready" ] && break; sleep 0.1; done
    gport=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["grpc"])' "$rx_dir/ready")
    hport=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$rx_dir/ready")
}
