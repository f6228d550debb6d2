package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/btfuse/btfuse/daemon"
	"github.com/btfuse/btfuse/internal/benchsuite"
)

// NewCmdBench returns "btfuse bench".
func NewCmdBench() *cobra.Command {
	var (
		quick            bool
		jsonOut, plotOut string
		from             string
		only             []string
		rounds           int
	)
	cmd := &cobra.Command{
		Use:   "bench [--quick] [--json FILE] [--plot FILE] [--only W,...]",
		Short: "Measure btfuse against a kernel tmpfs: the seed's study and more",
		Long: `Run every workload in four modes side by side, round by round: native (a
kernel tmpfs the bench mounts), fuse (through a 'btfuse mount' daemon it
starts), run (commands under 'btfuse run --no-fast-lane --mount' attached to
that daemon: the seccomp lane) and fast (the same with the fast lane's
library; no column when the binary has none beside it).
Workloads: the seed's find and cat tests, micro-operations (stat, stat
outside the mount, open, create, mkdir, unlink, readdir, pread), throughput
(1 GiB sequential write and read, 4K random reads) and programs (tar, git,
sqlite3, python3).

Prints a table of median (min-max) per mode and the ratios run/native,
fuse/run, fast/native and fuse/fast: measured in one run, the ratios are what compares across machines
and loads. Needs root (it mounts) and /dev/fuse. --quick runs every workload
at small sizes: it checks that all of them work rather than measures.

Workloads: ` + strings.Join(benchsuite.Names(), ", "),
		Example: `  btfuse bench --quick --json b.json --plot b.svg
  btfuse bench --only stat,cat,git
  btfuse bench --from b.json --plot b2.svg   # redraw without measuring`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if plotOut != "" {
				if _, err := benchsuite.PlotFormat(plotOut); err != nil {
					return err
				}
			}
			if _, err := benchsuite.Find(only); err != nil {
				return err
			}
			if rounds < 0 {
				return fmt.Errorf("--rounds %d: want a positive number", rounds)
			}
			var rep *benchsuite.Report
			var runErr error
			if from != "" {
				if quick || len(only) > 0 || rounds > 0 {
					return errors.New("--from redraws a saved report: --quick, --only and --rounds do not apply")
				}
				r, err := benchsuite.ReadJSON(from)
				if err != nil {
					return err
				}
				rep = r
			} else {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("find the btfuse binary: %w", err)
				}
				rep, runErr = benchsuite.Run(cmd.Context(), benchsuite.Config{
					Exe: exe, Version: daemon.Version, Quick: quick, Rounds: rounds, Only: only,
					Progress: cmd.ErrOrStderr(), Terminal: isTerminal(cmd.ErrOrStderr()),
				})
				if rep == nil {
					return runErr
				}
			}
			return errors.Join(runErr, writeBench(cmd, rep, jsonOut, plotOut), rep.Failed())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&quick, "quick", false, "small sizes: check that every workload runs, quickly")
	f.StringVar(&jsonOut, "json", "", "write every sample, as JSON, to `FILE`")
	f.StringVar(&plotOut, "plot", "", "draw grouped bars per workload into `FILE` (SVG, name ending in .svg)")
	f.StringSliceVar(&only, "only", nil, "run only these workloads (comma-separated names)")
	f.IntVar(&rounds, "rounds", 0, fmt.Sprintf("samples per workload and mode (default %d)", benchsuite.DefaultRounds))
	f.StringVar(&from, "from", "", "redraw the table (and --plot) from a report written by --json, without measuring")
	return cmd
}

// writeBench prints the table and writes the JSON and plot files asked for.
func writeBench(cmd *cobra.Command, rep *benchsuite.Report, jsonOut, plotOut string) error {
	out := cmd.OutOrStdout()
	kind := "full"
	if rep.Quick {
		kind = "quick"
	}
	version := ""
	if rep.Version != "" {
		version = " " + rep.Version
	}
	fmt.Fprintf(out, "btfuse%s bench (%s, %d rounds in %s) on %s, load average %.1f at the start, %.1f at the end\n\n",
		version, kind, rep.Rounds, benchsuite.FormatElapsed(time.Duration(rep.Elapsed*float64(time.Second))), rep.Machine, rep.Load[0], rep.Load[1])
	if err := rep.WriteTable(out); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nEach row times the loop from inside the command; 'whole command' rows are\n"+
		"the wall time of the command as started, 'btfuse run' start-up included.\n\n")
	if err := rep.WriteLegend(out); err != nil {
		return err
	}
	var errs []error
	if jsonOut != "" {
		if err := rep.WriteJSON(jsonOut); err != nil {
			errs = append(errs, fmt.Errorf("write --json: %w", err))
		}
	}
	if plotOut != "" {
		if err := rep.SavePlot(plotOut); err != nil {
			errs = append(errs, fmt.Errorf("write --plot: %w", err))
		}
	}
	return errors.Join(errs...)
}

// isTerminal reports whether w is a terminal, where the progress bar may
// redraw itself.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// newCmdBenchOp is the hidden 'btfuse __benchop OP DIR N [ARG]' that the
// bench runs for its micro-operations, in every mode, so that they are
// real processes (under 'btfuse run' in run mode). It prints the time of
// its loop after benchsuite.Marker.
func newCmdBenchOp() *cobra.Command {
	return &cobra.Command{
		Use:          benchsuite.OpCommand + " OP DIR N [ARG]",
		Hidden:       true,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			op, dir, n, arg, err := benchsuite.ParseOpArgs(args)
			if err != nil {
				return err
			}
			d, err := benchsuite.RunOp(op, dir, n, arg)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s %d %d\n", benchsuite.Marker, d.Nanoseconds(), n)
			return err
		},
	}
}
