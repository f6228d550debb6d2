package daemon

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/btfuse/btfuse/internal/mountinfo"
)

// checkEmbedDir refuses a directory that btfuse run should not mount a
// filesystem of its own on, for the command's lifetime: one that is not
// empty (its contents, and what the command writes there, would vanish
// under the new mount and come back after it), and one inside another
// btfuse mount (the command would not reach the filesystem served there).
// A directory that is itself a mount point is left to the mount's own
// checks (a stale btfuse mount there is cleared, anything else refused).
func checkEmbedDir(dir string) error {
	ms, err := mountinfo.Read()
	if err != nil {
		return fmt.Errorf("read the mount table: %w", err)
	}
	for _, m := range ms {
		if m.FSType == "fuse.btfuse" && strings.HasPrefix(dir, strings.TrimSuffix(m.Point, "/")+"/") {
			return fmt.Errorf("%s is inside the btfuse mount at %s: use 'btfuse run --mount %s' to work in that filesystem", dir, m.Point, m.Point)
		}
	}
	if mountinfo.At(ms, dir) != nil {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("mount point %s: %w", dir, err)
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err == nil {
		return fmt.Errorf("%s is not empty: btfuse run would hide what is there under a new, empty filesystem until the command ends; give an empty directory, or no --mount for a fresh one", dir)
	} else if !errors.Is(err, io.EOF) {
		return fmt.Errorf("mount point %s: %w", dir, err)
	}
	return nil
}
