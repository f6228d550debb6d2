package posixtest

import "strings"

// Reporter is the part of testing.TB that Compare and KnownDiff use.
type Reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// Compare reports in tb where got, the transcript of one case through the
// lane or door called name, differs from want, the same case's on a kernel
// tmpfs: an expectation tmpfs itself violates (the case is wrong), an
// expectation got violates, and the lines that differ. known, when not
// "", says why a difference of got is known (KnownDiff).
func Compare(tb Reporter, name string, want, got Transcript, known string) {
	tb.Helper()
	for _, f := range want.Failures {
		tb.Errorf("the reference (tmpfs) violates an expectation, fix the case: %s", f)
	}
	report, done := KnownDiff(tb, known)
	for _, f := range got.Failures {
		report("%s: %s", name, f)
	}
	d := Diff("tmpfs", want.Lines, name, got.Lines)
	if d != "" {
		report("%s differs from tmpfs:\n%s", name, strings.TrimRight(d, "\n"))
	}
	done(d != "" || len(got.Failures) > 0)
}

// KnownDiff returns how a test reports a difference from the reference:
// tb.Errorf, or, when why is not "" (the difference is known, and why), a
// log line. done must be called at the end with whether there was a
// difference: a known one that is gone fails, so that whoever fixed it
// removes its entry from the test's list.
func KnownDiff(tb Reporter, why string) (report func(format string, args ...any), done func(differs bool)) {
	if why == "" {
		return tb.Errorf, func(bool) {}
	}
	return func(format string, args ...any) {
			tb.Logf("known difference (%s): "+format, append([]any{why}, args...)...)
		}, func(differs bool) {
			if !differs {
				tb.Errorf("the known difference (%s) is gone: remove its entry from the list", why)
			}
		}
}
