package sign

import (
	"errors"
	"testing"
)

// FuzzParseRoles: .trove/roles.yaml decides who may approve. Parsing never
// panics, every failure is ErrRoles, and every role granted is well formed.
func FuzzParseRoles(f *testing.F) {
	for _, s := range []string{
		"version: 1\nroles:\n  model-risk: [alice@example.com, carol@example.com]\n  ml-lead: [bob@example.com]\n",
		"version: 1\nroles: {}\n",
		"version: 2\nroles: {}\n",
		"roles:\n  a: &x [p]\n  b: *x\n",
		"version: 1\nroles:\n  Bad Role: [x]\n",
		"a: &a [*a, *a, *a]\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRoles("roles.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrRoles) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		for role, members := range r.members {
			if !roleRe().MatchString(role) {
				t.Fatalf("accepted role %q", role)
			}
			for _, p := range members {
				found := false
				for _, got := range r.For(p) {
					found = found || got == role
				}
				if !found {
					t.Fatalf("For(%q) misses role %q", p, role)
				}
			}
		}
	})
}
