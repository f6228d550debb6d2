package posixtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Mismatch is the first step at which the filesystem under test answered
// differently from the reference.
type Mismatch struct {
	Step      int // index into the sequence
	Op        Op
	Want, Got string
	History   []string // the steps before, with their (equal) results
}

func (m *Mismatch) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %d: %s\n  reference: %s\n  got:       %s\n", m.Step, m.Op, m.Want, m.Got)
	if len(m.History) > 0 {
		b.WriteString("  preceded by:\n")
		for _, h := range m.History {
			fmt.Fprintf(&b, "    %s\n", h)
		}
	}
	return b.String()
}

// TreeMismatch is a difference between the trees.
type TreeMismatch struct {
	Diff    string
	History []string // the steps before, with their (equal) results
}

func (m *TreeMismatch) Error() string {
	return "trees differ:\n" + m.Diff + "  after:\n    " + strings.Join(m.History, "\n    ") + "\n"
}

// historyLen is how many earlier steps a Mismatch shows.
const historyLen = 12

// Door is one side of a lockstep run: a way of applying operations to a
// filesystem, and of reading its tree. Engine is the door of kernel paths
// (a tmpfs, a FUSE mount, a program under btfuse run); fsimpl's tests add
// one over its *At operations.
type Door interface {
	// Apply performs op and describes the result; two doors given the
	// same operations over equal trees must give equal strings.
	Apply(op Op) string
	// Tree is the tree the operations work on.
	Tree() Tree
	// Close releases what the sequence left open.
	Close()
}

// Lockstep runs one sequence against a reference door and a door under
// test.
type Lockstep struct {
	Ref, Got Door
	// Every, if not 0, compares the trees every so many steps as well as
	// at the end, so that a difference shows near its cause.
	Every int
	// DirSizes compares directory sizes too (see SnapshotTree).
	DirSizes bool
}

// Run applies ops to both doors step by step and returns a *Mismatch at
// the first step whose results differ, or a *TreeMismatch at the first
// comparison of the trees (names, types, modes, owners, link counts,
// sizes, blocks, contents, link targets, xattrs, the root included) that
// finds them different. It closes both doors.
func (l Lockstep) Run(ops []Op) error {
	defer l.Ref.Close()
	defer l.Got.Close()
	var hist []string
	for i, op := range ops {
		a, b := l.Ref.Apply(op), l.Got.Apply(op)
		if a != b {
			return &Mismatch{Step: i, Op: op, Want: a, Got: b, History: hist}
		}
		hist = append(hist, fmt.Sprintf("%d: %s => %s", i, op, a))
		if len(hist) > historyLen {
			hist = hist[1:]
		}
		if l.Every > 0 && i%l.Every == l.Every-1 && i != len(ops)-1 {
			if err := l.compare(hist); err != nil {
				return err
			}
		}
	}
	l.Ref.Close()
	l.Got.Close()
	return l.compare(hist)
}

func (l Lockstep) compare(hist []string) error {
	a, err := SnapshotTree(l.Ref.Tree(), l.DirSizes)
	if err != nil {
		return fmt.Errorf("snapshot reference: %w", err)
	}
	b, err := SnapshotTree(l.Got.Tree(), l.DirSizes)
	if err != nil {
		return fmt.Errorf("snapshot under test: %w", err)
	}
	if d := Diff("reference", a, "under test", b); d != "" {
		return &TreeMismatch{Diff: d, History: hist}
	}
	return nil
}

// RunLockstep runs ops (from Generate) in lockstep in the empty directories
// refRoot, a reference, and testRoot, through kernel paths (Engine).
func RunLockstep(ops []Op, refRoot, testRoot string) error {
	ref, err := NewEngine(refRoot)
	if err != nil {
		return err
	}
	got, err := NewEngine(testRoot)
	if err != nil {
		ref.Close()
		return err
	}
	return Lockstep{Ref: ref, Got: got}.Run(ops)
}

// Shrink looks for a shorter sequence for which fails still reports true:
// first the shortest suffix that fails, then removing chunks of halving
// size from that (a simple delta debugging). It gives up
// once it has replayed budget operations in total and returns the shortest
// failing sequence found.
func Shrink(ops []Op, fails func([]Op) bool, budget int) []Op {
	spent := 0
	// Most failures need only a few steps just before the failing one: try
	// growing suffixes first, which costs at most twice the sequence.
	for k := 1; k < len(ops) && spent < budget; k *= 2 {
		cand := ops[len(ops)-k:]
		spent += len(cand)
		if fails(cand) {
			ops = cand
			break
		}
	}
	for chunk := len(ops) / 2; chunk >= 1 && spent < budget; {
		removed := false
		for start := 0; start < len(ops) && spent < budget; {
			end := min(start+chunk, len(ops))
			cand := append(append([]Op(nil), ops[:start]...), ops[end:]...)
			spent += len(cand)
			if len(cand) > 0 && fails(cand) {
				ops, removed = cand, true
				continue // the same start now holds the next chunk
			}
			start = end
		}
		if !removed {
			chunk /= 2
		}
	}
	return ops
}

// FormatOps renders a sequence one step a line, for a report.
func FormatOps(ops []Op) string {
	var b strings.Builder
	for i, op := range ops {
		fmt.Fprintf(&b, "  %d: %s\n", i, op)
	}
	return b.String()
}

// RandomConfig returns the random sequences to run: seeds and length n,
// unless BTFUSE_RANDOM_SEEDS (comma-separated) and BTFUSE_RANDOM_OPS, which
// reproduce a failure, say otherwise.
func RandomConfig(seeds []uint64, n int) ([]uint64, int, error) {
	if v := os.Getenv("BTFUSE_RANDOM_SEEDS"); v != "" {
		seeds = nil
		for _, f := range strings.Split(v, ",") {
			s, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
			if err != nil {
				return nil, 0, fmt.Errorf("BTFUSE_RANDOM_SEEDS=%q: %w", v, err)
			}
			seeds = append(seeds, s)
		}
	}
	if v := os.Getenv("BTFUSE_RANDOM_OPS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			return nil, 0, fmt.Errorf("BTFUSE_RANDOM_OPS=%q: %w", v, err)
		}
	}
	return seeds, n, nil
}
