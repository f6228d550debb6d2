package daemon

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/btfuse/btfuse/control"
	"github.com/btfuse/btfuse/faults"
)

// newFaultSet makes the daemon's fault rule set: cfg.Inject, applied to
// every lane, seeded by cfg.InjectSeed (random when nil).
func newFaultSet(cfg *Config) (*faults.Set, error) {
	seed := faults.RandomSeed()
	if cfg.InjectSeed != nil {
		seed = *cfg.InjectSeed
	}
	set := faults.NewSet(seed)
	for _, text := range cfg.Inject {
		r, err := faults.Parse(text)
		if err != nil {
			return nil, err
		}
		set.Add(r, 0)
	}
	return set, nil
}

// addGroup adds the rules of one 'btfuse run --inject' to set as a new
// group, seeded by seed where they give none, and returns the group.
func addGroup(set *faults.Set, texts []string, seed uint64) (uint64, error) {
	rules := make([]*faults.Rule, 0, len(texts))
	for _, text := range texts {
		r, err := faults.Parse(text)
		if err != nil {
			return 0, err
		}
		if !r.HasSeed {
			r.Seed, r.HasSeed = seed, true
		}
		rules = append(rules, r)
	}
	if len(rules) == 0 {
		return 0, nil
	}
	g := set.NewGroup()
	for _, r := range rules {
		set.Add(r, g)
	}
	return g, nil
}

// injectHandler answers OpInject: add (a rule for every lane), list, del,
// clear (every rule, those of running 'btfuse run --inject' commands too).
func injectHandler(set *faults.Set) control.Handler {
	return func(_ context.Context, req *control.Request) (control.Reply, error) {
		var args control.InjectArgs
		if err := json.Unmarshal(req.Body, &args); err != nil {
			return control.Reply{}, fmt.Errorf("inject: %w", err)
		}
		var rep control.InjectReply
		switch args.Cmd {
		case "add":
			r, err := faults.Parse(args.Rule)
			if err != nil {
				return control.Reply{}, err
			}
			rep.ID = set.Add(r, 0)
		case "del":
			if !set.Del(args.ID) {
				return control.Reply{}, fmt.Errorf("no rule %d: see 'btfuse inject list'", args.ID)
			}
			rep.Removed = 1
		case "clear":
			rep.Removed = set.Clear()
		case "list":
		default:
			return control.Reply{}, fmt.Errorf("inject: unknown command %q: want add, list, del or clear", args.Cmd)
		}
		for _, ri := range set.List() {
			rep.Rules = append(rep.Rules, control.InjectRule{ID: ri.ID, Rule: ri.Rule, Group: ri.Group, Seed: ri.Seed, Fired: ri.Fired})
		}
		return control.Reply{Body: rep}, nil
	}
}
