# The commands a person types to work on btfuse. `just --list` shows them.
# Mounting needs root and /dev/fuse: test and demo are meant to run as root
# (tests that need it skip otherwise, or fail under BTFUSE_REQUIRE_PRIVILEGED=1).

# Bash with -e/-u/-o pipefail, so a failing step stops a recipe.
set shell := ["bash", "-euo", "pipefail", "-c"]

bin := "bin/btfuse"
version := `git describe --always --dirty 2>/dev/null || echo dev`

# -trimpath keeps this machine's paths out of the binary;
# -ldflags -X stamps the version that `btfuse --version` prints.
# The fast lane's preload library goes next to the binary, where
# 'btfuse run' looks for it. Its sources: every C file of fastlane/preload
# (with the flags of preloadlib.CFlags, which tests build with):
# shared and position-independent, warnings as errors, only the
# interposed functions exported, null checks kept although libc declares
# path arguments nonnull, no _FORTIFY_SOURCE wrappers, and its headers,
# code and read-only data in one segment (-z noseparate-code), which every
# process that loads it maps and faults in with fewer calls.
[doc("build bin/btfuse and bin/libbtfuse-fast.so")]
build:
    go build -trimpath -ldflags "-X github.com/btfuse/btfuse/daemon.Version={{version}}" -o {{bin}} ./cmd/btfuse
    gcc -shared -fPIC -O2 -g -std=gnu11 -Wall -Wextra -Werror -fvisibility=hidden -fno-delete-null-pointer-checks -U_FORTIFY_SOURCE -Wl,-z,noseparate-code -o bin/libbtfuse-fast.so fastlane/preload/*.c

# mount(8) runs /sbin/mount.fuse.btfuse for 'mount -t fuse.btfuse' and
# fstab lines of that type; the link points at bin/btfuse, so rebuild in
# place rather than move the binary. Root, for /sbin.
[doc("link /sbin/mount.fuse.btfuse to bin/btfuse (root)")]
install-helper: build
    {{bin}} install-helper

# -race: the daemon is concurrent (FUSE loops, control
# socket, signals); -count=1: the tests exercise the kernel (mounts,
# sockets), so a cached pass proves nothing; -timeout: a hung FUSE mount must
# fail the run with a stack dump instead of stalling it.
[doc("run every test (as root, or the FUSE tests skip)")]
test:
    go test -race -count=1 -timeout 20m ./...

# -run '^$' skips the tests; -benchmem reports
# allocations; no -race, which would distort every number.
[doc("run the benchmarks")]
bench:
    go test -run '^$' -bench . -benchmem -count=1 -timeout 60m ./...

# The fault injection numbers of the README: a never-firing rule against
# plain `btfuse run` and native per call, and strace -e inject against
# btfuse run --inject on whole commands, in interleaved rounds (root, and
# strace; BENCH_ROUNDS=5 by default, ~5 minutes on 2 cores).
[doc("measure fault injection: never-firing rules, and against strace")]
bench-inject:
    go test -run '^$' -bench 'BenchmarkInjectCost|BenchmarkInjectVsStrace' -benchtime 1x -count=1 -timeout 30m ./cmd/btfuse

# The full study of the README's "btfuse bench" section: every workload,
# 5 rounds of native, fuse and run (about 10-15 minutes on 2 cores). Root:
# it mounts a tmpfs and a FUSE filesystem. The samples, the plot and the
# table land under docs/; paste docs/bench.md into the README.
[doc("run the full btfuse bench study into docs/bench.* (root, ~15 min)")]
bench-study: build
    {{bin}} bench --json docs/bench.json --plot docs/bench.svg | tee docs/bench.md

# gofmt must have nothing to say, and go vet must pass.
[doc("static checks: gofmt and go vet")]
lint:
    test -z "$(gofmt -l .)" || { gofmt -l .; echo "run gofmt -w on the files above"; exit 1; }
    go vet ./...

# Mounts on a fresh temporary directory, uses it from the shell, shows the
# mount line and unmounts through the control socket; root, for the mount.
[doc("mount btfuse on a temp dir, use it from the shell, unmount it")]
demo: build
    #!/usr/bin/env bash
    set -euo pipefail
    [ "$(id -u)" = 0 ] || { echo "demo: run as root (mounting needs it)"; exit 1; }
    dir=$(mktemp -d /tmp/btfuse-demo.XXXXXX)
    {{bin}} mount --size 256M "$dir" &
    pid=$!
    trap 'kill $pid 2>/dev/null || true; umount -l "$dir" 2>/dev/null || true; rmdir "$dir" 2>/dev/null || true' EXIT
    for _ in $(seq 100); do grep -q " $dir .* fuse.btfuse " /proc/self/mountinfo && break; sleep 0.1; done
    echo "\$ cd $dir"; cd "$dir"
    run() { echo "\$ $*"; eval "$@"; }
    run 'echo "hello from btfuse" > greeting'
    run 'cat greeting'
    run 'mkdir -p docs/notes && cp greeting docs/notes/copy && ln -s greeting link'
    run 'seq 1 100000 > numbers && wc -l numbers && sha256sum numbers'
    run 'mv numbers docs/ && rm docs/notes/copy'
    run 'ls -lR'
    run 'df -h .'
    btfuse={{justfile_directory()}}/{{bin}}
    run "$btfuse run --mount $dir -- sh -c 'echo written through the supervised door > run.txt; cat run.txt'"
    run 'cat run.txt    # read back through FUSE at once'
    run "$btfuse run --mount $dir --inject-seed 1 --inject 'write:error=EPERM:path=*/123.txt' -- bash -c 'echo 345 > 123.txt; wc -c 123.txt' || true"
    run "$btfuse status $dir"
    run "grep ' $dir ' /proc/self/mountinfo"
    cd /
    echo "\$ btfuse umount $dir"
    {{justfile_directory()}}/{{bin}} umount "$dir"
    wait $pid
    echo "demo: daemon exited with status $?"

# The interleaved before/after comparison the issue notes quote: the door
# benchmarks of REV and of the working tree, built once each and run in
# turns (before, after, before, ...) so that the machine's load falls on
# both alike. Prints one line per benchmark and round, prefixed with
# "before" or "after"; take the medians. Root, for the mounts.
[doc("interleave the door benchmarks of REV and of this tree (root)")]
bench-compare rev rounds="5":
    #!/usr/bin/env bash
    set -euo pipefail
    tmp=$(mktemp -d)
    trap 'git worktree remove --force "$tmp/base" 2>/dev/null; rm -rf "$tmp"' EXIT
    git worktree add -q --detach "$tmp/base" {{rev}}
    (cd "$tmp/base" && go test -c -o "$tmp/sup-before.test" ./supervisor && go test -c -o "$tmp/fuse-before.test" ./fsimpl/fuseserve)
    go test -c -o "$tmp/sup-after.test" ./supervisor
    go test -c -o "$tmp/fuse-after.test" ./fsimpl/fuseserve
    for r in $(seq {{rounds}}); do
        for v in before after; do
            "$tmp/sup-$v.test" -test.run '^$' -test.bench Doors -test.benchtime 3000x | grep '^Benchmark' | sed "s/^/$v /"
            "$tmp/fuse-$v.test" -test.run '^$' -test.bench '^Benchmark(Stat|OpenRead4KClose|CreateWrite4KClose|Mkdir|Pread4K)$' -test.benchtime 3000x | grep '^Benchmark' | sed "s/^/$v /"
        done
    done

# The per-request costs the issue notes quote: 'btfuse bench' of REV's
# binary and of this tree's, one round each in turn (before, after,
# before, ...), so that the machine's load falls on both alike; then the
# median per workload and mode of each, and after/before. Root, for the
# mounts; python3, for the medians.
[doc("interleave 'btfuse bench' of REV and of this tree (root)")]
bench-compare-cli rev rounds="5" only="mkdir,unlink,createwrite,stat,openclose": build
    #!/usr/bin/env bash
    set -euo pipefail
    tmp=$(mktemp -d)
    trap 'git worktree remove --force "$tmp/base" 2>/dev/null; rm -rf "$tmp"' EXIT
    git worktree add -q --detach "$tmp/base" {{rev}}
    (cd "$tmp/base" && just build >/dev/null)
    for r in $(seq {{rounds}}); do
        for v in before after; do
            bin={{justfile_directory()}}/{{bin}}
            [ $v = before ] && bin="$tmp/base/bin/btfuse"
            "$bin" bench --only {{only}} --rounds 1 --json "$tmp/$v-$r.json" >/dev/null
            echo "$v round $r done" >&2
        done
    done
    python3 - "$tmp" <<'PY'
    import collections, glob, json, os, statistics, sys
    d = collections.defaultdict(list)
    for f in glob.glob(os.path.join(sys.argv[1], "*-*.json")):
        v = os.path.basename(f).split("-")[0]
        for w in json.load(open(f))["workloads"]:
            for s in w["samples"]:
                d[(w["name"], s["mode"], v)].append(s["ns"] / 1000)
    print("%-12s %-6s %10s %10s %12s" % ("workload", "mode", "before us", "after us", "after/before"))
    for (name, mode, v) in sorted(d):
        if v == "before" and (name, mode, "after") in d:
            b, a = statistics.median(d[(name, mode, "before")]), statistics.median(d[(name, mode, "after")])
            print("%-12s %-6s %10.2f %10.2f %12.2f" % (name, mode, b, a, a / b))
    PY
