package daemon

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoggerPlain: without a log file, the daemon's log shows on the
// terminal as plain messages, warnings and errors only unless --verbose
// or --debug; never as slog's "time=... level=..." lines.
func TestLoggerPlain(t *testing.T) {
	tests := []struct {
		name           string
		verbose, debug bool
		want           string
	}{
		{"default", false, false, "btfuse: warning: no segment (err=\"no space\")\nbtfuse: error: broken (n=3)\n"},
		{"verbose", true, false, "btfuse: hello (mount=/m)\nbtfuse: warning: no segment (err=\"no space\")\nbtfuse: error: broken (n=3)\n"},
		{"debug", false, true, "btfuse: detail (g.k=v)\nbtfuse: hello (mount=/m)\nbtfuse: warning: no segment (err=\"no space\")\nbtfuse: error: broken (n=3)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w bytes.Buffer
			log := newLogger(&w, nil, tt.verbose, tt.debug)
			log.WithGroup("g").Debug("detail", "k", "v")
			log.Info("hello", "mount", "/m")
			log.Warn("no segment", "err", errors.New("no space"))
			log.With("n", 3).Error("broken")
			if w.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", w.String(), tt.want)
			}
		})
	}
}

// TestLoggerFile: with a log file, Info and above go there in slog's
// format, and nothing to the terminal.
func TestLoggerFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	f, err := openLog(p)
	if err != nil {
		t.Fatal(err)
	}
	var term bytes.Buffer
	log := newLogger(&term, f, false, false)
	log.Debug("hidden")
	log.Info("hello", "mount", "/m")
	log.Warn("careful")
	f.Close()
	b, _ := os.ReadFile(p)
	if term.Len() != 0 || strings.Contains(string(b), "hidden") ||
		!strings.Contains(string(b), "level=INFO msg=hello mount=/m") || !strings.Contains(string(b), "level=WARN msg=careful") {
		t.Errorf("terminal %q, file %q", term.String(), b)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("log file mode: %v, %v; want 0600", st.Mode(), err)
	}
}
