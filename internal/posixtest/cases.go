package posixtest

import "sort"

// Cases is the conformance suite, sorted by name. Each case covers one
// operation or one rule, with its errnos.
var Cases = func() []Case {
	var all []Case
	for _, group := range [][]Case{metaCases, openCases, dirCases, renameCases, linkCases, xattrCases, allocCases, permCases} {
		all = append(all, group...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all
}()

// CaseByName finds a case of the suite.
func CaseByName(name string) (Case, bool) {
	for _, c := range Cases {
		if c.Name == name {
			return c, true
		}
	}
	return Case{}, false
}
