// Test helper (not installed): starts and stops the eBPF capture N times in this process
// and prints its fds and memory after a warm-up and at the end, as one JSON line.
//   olly-capture-cycles CYCLES WARMUP [BPF_OBJECT]
import OllyCapture
#if canImport(Glibc)
import Glibc
#endif

exit(StartStopCycles.main(CommandLine.arguments))
