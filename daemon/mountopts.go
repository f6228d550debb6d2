package daemon

import (
	"fmt"
	"os/user"
	"strconv"
	"strings"
)

// Mount options (btfuse mount -o LIST, and mount(8) through
// mount.fuse.btfuse) use mount(8)'s syntax: a comma-separated list of NAME
// or NAME=VALUE, -o may be repeated, and a later option overrides an
// earlier one. Each option is one row of mountOptions; one that takes a
// value (size=, inodes=) sets value, one that only root may ask for sets
// rootOnly with the reason. Options that mount(8) itself acts on, or that
// only other programs read from /etc/fstab, are accepted and ignored
// (ignoredOptions), as mount(8) expects of a helper.
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
	{name: "size", value: true, help: "cap on file data, as --size (bytes with k, M, G or T, or a % of RAM)",
		set: func(c *Config, v string) (err error) { c.SizeBytes, err = ParseSize(v); return err }},
	{name: "inodes", value: true, help: "cap on the number of inodes, as --inodes",
		set: func(c *Config, v string) (err error) { c.Inodes, err = ParseCount(v); return err }},
	{name: "nr_inodes", value: true, help: "the same, under tmpfs's name",
		set: func(c *Config, v string) (err error) { c.Inodes, err = ParseCount(v); return err }},
	{name: "allow_other", help: "let other users than the mounting one use the mount, as --allow-other",
		set: func(c *Config, _ string) error { c.AllowOther = true; return nil }},
	{name: "uid", value: true, help: "owner of the root directory: a user name or number (default: the daemon's user)",
		set: func(c *Config, v string) error {
			return parseID(v, user.Lookup, func(u *user.User) string { return u.Uid }, &c.RootUID)
		}},
	{name: "gid", value: true, help: "group of the root directory: a group name or number (default: the daemon's group)",
		set: func(c *Config, v string) error {
			return parseID(v, func(n string) (*user.Group, error) { return user.LookupGroup(n) }, func(g *user.Group) string { return g.Gid }, &c.RootGID)
		}},
	{name: "mode", value: true, help: "permission bits of the root directory, in octal, like 1777 (default 0755)",
		set: func(c *Config, v string) error {
			m, err := strconv.ParseUint(v, 8, 32)
			if err != nil || m > 0o7777 {
				return fmt.Errorf("want octal permission bits up to 7777, like 755 or 1777")
			}
			mode := uint32(m)
			c.RootMode = &mode
			return nil
		}},
	{name: "ro", help: "mount read-only",
		set: func(c *Config, _ string) error { c.ReadOnly = true; return nil }},
	{name: "rw", help: "mount read-write (default)",
		set: func(c *Config, _ string) error { c.ReadOnly = false; return nil }},
	{name: "noexec", help: "exec of files in the mount is refused",
		set: func(c *Config, _ string) error { c.NoExec = true; return nil }},
	{name: "exec", help: "files in the mount can be executed (default)",
		set: func(c *Config, _ string) error { c.NoExec = false; return nil }},
	{name: "dev", rootOnly: devSUIDRoot, help: "device nodes in the mount can be opened",
		set: func(c *Config, _ string) error { c.Dev = true; return nil }},
	{name: "nodev", help: "device nodes cannot be opened (default)",
		set: func(c *Config, _ string) error { c.Dev = false; return nil }},
	{name: "suid", rootOnly: devSUIDRoot, help: "exec honours setuid and setgid bits and file capabilities",
		set: func(c *Config, _ string) error { c.SUID = true; return nil }},
	{name: "nosuid", help: "exec ignores setuid and setgid bits (default)",
		set: func(c *Config, _ string) error { c.SUID = false; return nil }},
	{name: "fsname", value: true, help: "the source column of the mount table (default btfuse)",
		set: func(c *Config, v string) error {
			if strings.ContainsAny(v, " \t\n\\") {
				return fmt.Errorf("want a name without blanks or backslashes")
			}
			c.FsName = v
			return nil
		}},
}

// ignoredOptions are accepted and have no effect: mount(8) acts on them
// itself (auto, user, ...), or they are read from /etc/fstab by other
// programs (_netdev, nofail: systemd), or they concern access times,
// which btfuse keeps as relatime does. An option starting with x- or X-,
// or comment=, is a comment for other programs.
var ignoredOptions = []string{
	"defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group",
	"_netdev", "nofail", "async",
	"atime", "noatime", "relatime", "norelatime", "strictatime", "nostrictatime", "diratime", "nodiratime",
}

// ParseMountOptions applies the -o lists to cfg in order. euid is the
// caller's effective uid: an option only root may ask for fails for
// others, before anything is mounted.
func ParseMountOptions(lists []string, euid int, cfg *Config) error {
	for _, list := range lists {
		for _, o := range strings.Split(list, ",") {
			if o == "" || ignoredOption(o) {
				continue
			}
			name, value, hasValue := strings.Cut(o, "=")
			opt := findMountOption(name)
			switch {
			case opt == nil && cfg.Sloppy:
				continue
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

func ignoredOption(o string) bool {
	if strings.HasPrefix(o, "x-") || strings.HasPrefix(o, "X-") || strings.HasPrefix(o, "comment=") {
		return true
	}
	for _, i := range ignoredOptions {
		if o == i {
			return true
		}
	}
	return false
}

// parseID reads a user or group given by number or by name.
func parseID[T any](v string, lookup func(string) (T, error), id func(T) string, out **uint32) error {
	s := v
	if _, err := strconv.ParseUint(v, 10, 32); err != nil {
		t, err := lookup(v)
		if err != nil {
			return fmt.Errorf("no such user or group %q", v)
		}
		s = id(t)
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 1<<32-1 {
		return fmt.Errorf("invalid id %q", v)
	}
	u := uint32(n)
	*out = &u
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
		name := o.name
		if o.value {
			name += "=V"
		}
		fmt.Fprintf(&b, "  %-12s %s%s\n", name, o.help, root)
	}
	// Wrapped at 80 columns, like the rest of the help.
	line := "Accepted and ignored, for mount(8) and /etc/fstab:"
	for _, w := range append(append([]string{}, ignoredOptions...), "x-*", "X-*", "comment=*") {
		if len(line)+len(w)+2 > 80 {
			b.WriteString(line + "\n")
			line = " "
		}
		line += " " + w + ","
	}
	b.WriteString(strings.TrimSuffix(line, ",") + ".\n")
	return b.String()
}
