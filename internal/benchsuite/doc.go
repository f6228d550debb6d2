// Package benchsuite is the engine of 'btfuse bench': the performance study
// of the bt-fuse seed (find over a tree, cat of one file many times),
// reproduced and extended with micro-operations, throughput and real
// programs, each run in four modes side by side:
//
//   - native: a kernel tmpfs the bench mounts itself, the reference;
//   - fuse: a 'btfuse mount' daemon, reached through the kernel's FUSE door;
//   - run: the same daemon, reached by commands started under
//     'btfuse run --no-fast-lane --mount', whose file syscalls the
//     supervisor answers (the seccomp lane);
//   - fast: the same with the fast lane's preload library (left out when
//     the binary has none beside it).
//
// The bench measures the product, not its internals: every sample is a real
// process. Programs run as shell scripts that time themselves with bash's
// $EPOCHREALTIME; micro-operations run in a hidden subcommand of btfuse
// ('btfuse __benchop OP DIR N', see RunOp) that times its own loop. The
// wall time of the whole command (including 'btfuse run' start-up) is kept
// for every sample too.
//
// Rounds are interleaved: each round runs every workload once in every
// mode, the modes in an order rotated from round to round, so that drift
// of a shared machine hits all modes alike. Every sample gets a fresh
// directory that is removed after it (the 1 GiB files would otherwise pile
// up in memory).
//
// Files: workloads.go (what is measured), fixtures.go (trees, archives and
// packages the workloads start from), ops.go and ops_libc.go (the
// micro-operation loops), modes.go (tmpfs and daemon set-up and
// tear-down), runner.go (the interleaved loop), stats.go, table.go,
// report.go (JSON), plot.go (SVG or PNG), progress.go.
package benchsuite
