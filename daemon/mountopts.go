package daemon

import (
	"fmt"
	"strings"
)

// Mount options (btfuse mount -o LIST) use mount(8)'s syntax: a
// comma-separated list of NAME or NAME=VALUE, -o may be repeated, and a
// later option overrides an earlier one. Each option is one row of
// mountOptions; one that takes a value (size=, inodes=) sets value, one
// that only root may ask for sets rootOnly with the reason.
type mountOption struct {
	name     string
	value    bool   // takes =VALUE
	rootOnly string // non-empty: only root may ask for it; why
	help     string
	set      func(cfg *Config, value string) error
}

// devSUIDRoot says why dev and suid need root.
const devSUIDRoot = "the kernel forces nodev and nosuid on the FUSE mounts of other users (fusermount3)"

var mountOptions = []mountOption{
	{name: "dev", rootOnly: devSUIDRoot, help: "device nodes in the mount can be opened",
		set: func(c *Config, _ string) error { c.Dev = true; return nil }},
	{name: "nodev", help: "device nodes cannot be opened (default)",
		set: func(c *Config, _ string) error { c.Dev = false; return nil }},
	{name: "suid", rootOnly: devSUIDRoot, help: "exec honours setuid and setgid bits and file capabilities",
		set: func(c *Config, _ string) error { c.SUID = true; return nil }},
	{name: "nosuid", help: "exec ignores setuid and setgid bits (default)",
		set: func(c *Config, _ string) error { c.SUID = false; return nil }},
}

// ParseMountOptions applies the -o lists to cfg in order. euid is the
// caller's effective uid: an option only root may ask for fails for
// others, before anything is mounted.
func ParseMountOptions(lists []string, euid int, cfg *Config) error {
	for _, list := range lists {
		for _, o := range strings.Split(list, ",") {
			if o == "" {
				continue
			}
			name, value, hasValue := strings.Cut(o, "=")
			opt := findMountOption(name)
			switch {
			case opt == nil:
				return fmt.Errorf("-o %s: unknown mount option (known: %s)", o, knownMountOptions())
			case opt.value && !hasValue:
				return fmt.Errorf("-o %s: needs a value: %s=VALUE", o, name)
			case !opt.value && hasValue:
				return fmt.Errorf("-o %s: %s takes no value", o, name)
			case opt.rootOnly != "" && euid != 0:
				return fmt.Errorf("-o %s: only root may mount with %s (%s); run btfuse mount as root", o, name, opt.rootOnly)
			}
			if err := opt.set(cfg, value); err != nil {
				return fmt.Errorf("-o %s: %w", o, err)
			}
		}
	}
	return nil
}

func findMountOption(name string) *mountOption {
	for i := range mountOptions {
		if mountOptions[i].name == name {
			return &mountOptions[i]
		}
	}
	return nil
}

func knownMountOptions() string {
	names := make([]string, len(mountOptions))
	for i, o := range mountOptions {
		names[i] = o.name
		if o.value {
			names[i] += "=VALUE"
		}
	}
	return strings.Join(names, ", ")
}

// MountOptionsHelp describes the -o options, one per line, for the
// command's help.
func MountOptionsHelp() string {
	var b strings.Builder
	for _, o := range mountOptions {
		root := ""
		if o.rootOnly != "" {
			root = " (root only)"
		}
		fmt.Fprintf(&b, "  %-8s %s%s\n", o.name, o.help, root)
	}
	return b.String()
}
