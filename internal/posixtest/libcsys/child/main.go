//go:build linux && amd64 && cgo

// Command child runs posixtest through libc (package libcsys), for tests
// that run it under 'btfuse run' with the fast lane's library preloaded,
// and natively for the reference. It is dynamically linked against libc
// (cgo), so the library interposes its calls.
//
//	child cases ROOT
//	    runs every conformance case in a new directory under ROOT and
//	    prints the transcripts as one JSON object, by case name.
//	child lockstep OPS EVERY REF DIR SEED...
//	    runs the random sequence of OPS operations of each SEED in
//	    lockstep in REF/seed-N (the reference) and DIR/seed-N (under
//	    test), comparing the trees every EVERY steps (0: at the end), and
//	    prints one JSON object: seed -> "" or the first difference.
//
// Exit status 0 when the results were printed (differences included), 2
// on bad arguments or when the directories cannot be made.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/btfuse/btfuse/internal/posixtest"
	"github.com/btfuse/btfuse/internal/posixtest/libcsys"
)

// init keeps the main goroutine on the main thread, so that no body of
// posixtest.As (a goroutine locked to a thread whose credentials it
// changes) ever runs there: Go cannot end the main thread, so a credential
// change there would outlive the body, and the main thread's credentials
// are the process's for the fast lane's handshake (a process that is not
// root gets no backing directory, and its opens pass to the seccomp lane).
func init() { runtime.LockOSThread() }

func main() {
	posixtest.Use(libcsys.Libc{})
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 2 && args[0] == "cases" {
		out := map[string]posixtest.Transcript{}
		for _, c := range posixtest.Cases {
			out[c.Name] = posixtest.RunCase(c, args[1])
		}
		return emit(out)
	}
	if len(args) >= 6 && args[0] == "lockstep" {
		n, err1 := strconv.Atoi(args[1])
		every, err2 := strconv.Atoi(args[2])
		if err1 != nil || err2 != nil {
			return usage()
		}
		ref, dir := args[3], args[4]
		out := map[string]string{}
		for _, a := range args[5:] {
			seed, err := strconv.ParseUint(a, 10, 64)
			if err != nil {
				return usage()
			}
			r, d := filepath.Join(ref, "seed-"+a), filepath.Join(dir, "seed-"+a)
			for _, p := range []string{r, d} {
				if err := os.Mkdir(p, 0o755); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 2
				}
			}
			out[a] = lockstep(seed, n, every, r, d)
		}
		return emit(out)
	}
	return usage()
}

// lockstep runs one sequence and returns "" or the first difference.
func lockstep(seed uint64, n, every int, ref, dir string) string {
	a, err := posixtest.NewEngine(ref)
	if err != nil {
		return err.Error()
	}
	b, err := posixtest.NewEngine(dir)
	if err != nil {
		a.Close()
		return err.Error()
	}
	if err := (posixtest.Lockstep{Ref: a, Got: b, Every: every}).Run(posixtest.Generate(seed, n)); err != nil {
		return err.Error()
	}
	return ""
}

func emit(v any) int {
	if err := json.NewEncoder(os.Stdout).Encode(v); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

func usage() int {
	fmt.Fprintln(os.Stderr, "usage: child cases ROOT | child lockstep OPS EVERY REF DIR SEED...")
	return 2
}
