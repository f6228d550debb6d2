package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// The daemon's structured log (log/slog) never reaches a person's
// terminal as log lines: with a log file (--log, or the default file of a
// daemon started with -d) every record at Info and above goes there in
// slog's text format; without one, records are printed as plain
// "btfuse: message (key=value ...)" lines on stderr, warnings and errors
// only, Info too with --verbose, and everything with --debug.

// newLogger returns the logger of a daemon whose terminal (or whatever
// stands for it) is w. logFile, when set, is an open log file, which wins
// over w.
func newLogger(w io.Writer, logFile io.Writer, verbose, debug bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	if debug {
		level = slog.LevelDebug
	}
	if logFile != nil {
		level = min(level, slog.LevelInfo)
		return slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: level}))
	}
	return slog.New(&plainHandler{w: w, mu: new(sync.Mutex), level: level})
}

// openLog opens (creating, mode 0600) the log file at path for appending.
func openLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--log: %w", err)
	}
	return f, nil
}

// plainHandler prints records as a command's own messages: no time, no
// level for Info, "warning:" or "error:" otherwise.
type plainHandler struct {
	w     io.Writer
	mu    *sync.Mutex // shared by the handlers WithAttrs makes
	level slog.Level
	attrs string // preformatted " key=value" pairs
	group string // "g." prefix of the current group
}

func (h *plainHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *plainHandler) Handle(_ context.Context, r slog.Record) error {
	var b bytes.Buffer
	b.WriteString("btfuse: ")
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	attrs := h.attrs
	r.Attrs(func(a slog.Attr) bool {
		attrs += formatAttr(h.group, a)
		return true
	})
	if attrs != "" {
		b.WriteString(" (" + strings.TrimPrefix(attrs, " ") + ")")
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(b.Bytes())
	return err
}

func (h *plainHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	for _, a := range as {
		c.attrs += formatAttr(h.group, a)
	}
	return &c
}

func (h *plainHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.group += name + "."
	return &c
}

// formatAttr formats a as " key=value", quoting a value with spaces.
func formatAttr(group string, a slog.Attr) string {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return ""
	}
	if a.Value.Kind() == slog.KindGroup {
		var s string
		for _, g := range a.Value.Group() {
			s += formatAttr(group+a.Key+".", g)
		}
		return s
	}
	v := a.Value.String()
	if v == "" || strings.ContainsAny(v, " \t\n\"=") {
		v = fmt.Sprintf("%q", v)
	}
	return " " + group + a.Key + "=" + v
}

// logger makes the logger cfg asks for; close closes its file.
func (cfg *Config) logger(stderr io.Writer) (_ *slog.Logger, close func(), err error) {
	switch {
	case cfg.LogFile != "":
		f, err := openLog(cfg.LogFile)
		if err != nil {
			return nil, nil, err
		}
		return newLogger(stderr, f, cfg.Verbose, cfg.Debug), func() { f.Close() }, nil
	case cfg.LogStderr || journalStderr():
		return newLogger(stderr, stderr, cfg.Verbose, cfg.Debug), func() {}, nil
	}
	return newLogger(stderr, nil, cfg.Verbose, cfg.Debug), func() {}, nil
}
