package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/faults"
)

// injectFlags are the fault injection flags of run and mount.
type injectFlags struct {
	rules []string
	file  string
	seed  uint64
}

func (f *injectFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.rules, "inject", nil, "fault rule, strace's inject syntax plus path=, prob=, short=, corrupt=, enospc=... (repeatable; see 'btfuse inject --help')")
	cmd.Flags().StringVar(&f.file, "inject-file", "", "file of fault rules, one per line ('#' starts a comment)")
	cmd.Flags().Uint64Var(&f.seed, "inject-seed", 0, "seed of prob= and corrupt= (default: random, printed)")
}

// load checks every rule (before anything starts) and returns them with
// the seed, printing a random seed so that a run can be repeated.
func (f *injectFlags) load(cmd *cobra.Command, stderr io.Writer, who string) ([]string, *uint64, error) {
	rules := append([]string(nil), f.rules...)
	if f.file != "" {
		b, err := os.ReadFile(f.file)
		if err != nil {
			return nil, nil, fmt.Errorf("inject file: %w", err)
		}
		rs, err := faults.ParseFile(f.file, string(b))
		if err != nil {
			return nil, nil, err
		}
		for _, r := range rs {
			rules = append(rules, r.Text)
		}
	}
	for _, r := range f.rules {
		if _, err := faults.Parse(r); err != nil {
			return nil, nil, err
		}
	}
	if len(rules) == 0 {
		return nil, nil, nil
	}
	seed := f.seed
	if !cmd.Flags().Changed("inject-seed") {
		seed = faults.RandomSeed()
		fmt.Fprintf(stderr, "btfuse %s: fault injection seed %d (repeat with --inject-seed %d)\n", who, seed, seed)
	}
	return rules, &seed, nil
}

// NewCmdInject returns "btfuse inject [DIR] add RULE | list | del ID | clear".
func NewCmdInject() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inject [DIR] add RULE | list | del ID | clear",
		Short: "Add, list and remove fault injection rules of a running daemon",
		Long: `Edit the fault injection rules of the daemon serving DIR (or of the one
daemon running) while it runs. A rule added here applies to every lane of
the daemon: the processes of every 'btfuse run' it serves and its FUSE door.
'list' shows every rule with how often it has fired, those of running
'btfuse run --inject' commands too (with their group); 'clear' removes them
all. A rule on a data syscall (read, write, ...) reaches a supervised process
only if its filter notifies that syscall, i.e. if a rule given to its
'btfuse run --inject' named it.

Rule syntax (strace's -e inject= plus btfuse's own keys):

` + faults.Syntax + `

Several rules may match one call: the first listed that fires wins.`,
		Example: `  btfuse inject /mnt/mem add 'write:error=ENOSPC:path=/mnt/mem/db/**:when=3+'
  btfuse inject list
  btfuse inject del 2`,
		Args:         cobra.RangeArgs(1, 3),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInject(cmd, args, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rules as JSON")
	return cmd
}

func runInject(cmd *cobra.Command, args []string, asJSON bool) error {
	dir := ""
	switch args[0] {
	case "add", "list", "del", "clear":
	default:
		dir, args = args[0], args[1:]
	}
	if len(args) == 0 {
		return errors.New("inject: want add RULE, list, del ID or clear")
	}
	req := control.InjectArgs{Cmd: args[0]}
	want := 1
	switch req.Cmd {
	case "add":
		want = 2
		if len(args) == 2 {
			if _, err := faults.Parse(args[1]); err != nil {
				return err
			}
			req.Rule = args[1]
		}
	case "del":
		want = 2
		if len(args) == 2 {
			id, err := strconv.Atoi(args[1])
			if err != nil {
				return fmt.Errorf("inject del: %q is not a rule id (see 'btfuse inject list')", args[1])
			}
			req.ID = id
		}
	case "list", "clear":
	default:
		return fmt.Errorf("inject: unknown command %q: want add, list, del or clear", req.Cmd)
	}
	if len(args) != want {
		return fmt.Errorf("inject %s: wrong number of arguments: usage: %s", req.Cmd, cmd.UseLine())
	}
	ctx := cmd.Context()
	reg, err := control.OpenDefault()
	if err != nil {
		return err
	}
	entries, err := reg.Select(ctx, dir)
	if errors.Is(err, control.ErrNotRunning) || (err == nil && len(entries) == 0) {
		return fmt.Errorf("no btfuse daemon serves %s", nonEmpty(dir, "any directory"))
	}
	if err != nil {
		return err
	}
	if len(entries) > 1 {
		return fmt.Errorf("%d daemons are running: name the directory, 'btfuse inject DIR %s'", len(entries), req.Cmd)
	}
	e := entries[0]
	if e.Err != nil {
		return fmt.Errorf("the daemon serving %s does not answer: %w", e.Mount, e.Err)
	}
	client, err := control.Dial(ctx, e.Socket)
	if err != nil {
		return err
	}
	defer client.Close()
	var rep control.InjectReply
	if _, err := client.Call(ctx, control.OpInject, req, nil, &rep); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	switch req.Cmd {
	case "add":
		fmt.Fprintf(cmd.ErrOrStderr(), "btfuse inject: rule %d added\n", rep.ID)
	case "del", "clear":
		fmt.Fprintf(cmd.ErrOrStderr(), "btfuse inject: %d rule(s) removed\n", rep.Removed)
	}
	if req.Cmd != "list" {
		return nil
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep.Rules)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFIRED\tSCOPE\tSEED\tRULE")
	for _, r := range rep.Rules {
		scope := "all"
		if r.Group != 0 {
			scope = "run#" + strconv.FormatUint(r.Group, 10)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%s\n", r.ID, r.Fired, scope, r.Seed, r.Rule)
	}
	return tw.Flush()
}

func nonEmpty(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
