package sign

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func authorized(t testing.TB, s ssh.Signer) string {
	t.Helper()
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

func TestParseAllowedSigners(t *testing.T) {
	k := authorized(t, testKey(t, 1))
	for _, tc := range []struct {
		name, line string
		err        string // "" = parses
		check      func(t *testing.T, e Entry)
	}{
		{name: "plain", line: "alice@example.com " + k + " laptop", check: func(t *testing.T, e Entry) {
			if !slices.Equal(e.Principals, []string{"alice@example.com"}) || e.Comment != "laptop" || e.Namespaces != nil {
				t.Fatalf("%+v", e)
			}
		}},
		{name: "several principals", line: "alice@example.com,*@ops.example.com " + k, check: func(t *testing.T, e Entry) {
			if len(e.Principals) != 2 {
				t.Fatalf("%+v", e)
			}
		}},
		{name: "quoted principals", line: `"alice@example.com,bob@example.com" ` + k, check: func(t *testing.T, e Entry) {
			if !slices.Equal(e.Principals, []string{"alice@example.com", "bob@example.com"}) {
				t.Fatalf("%+v", e.Principals)
			}
		}},
		{name: "options", line: `alice@example.com namespaces="git,trove",valid-after="20250101Z",VALID-BEFORE="202701011200Z" ` + k, check: func(t *testing.T, e Entry) {
			if !slices.Equal(e.Namespaces, []string{"git", "trove"}) ||
				!e.ValidAfter.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) ||
				!e.ValidBefore.Equal(time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)) {
				t.Fatalf("%+v", e)
			}
		}},
		{name: "cert-authority", line: "*@example.com cert-authority " + k, err: "cert-authority is not supported"},
		{name: "unknown option", line: `alice@example.com roles="model-risk" ` + k, err: `unsupported option "roles=\"model-risk\""`},
		{name: "local time", line: `alice@example.com valid-after="20250101" ` + k, err: "no trailing Z"},
		{name: "bad stamp", line: `alice@example.com valid-after="2025-01-01Z" ` + k, err: "want YYYYMMDD"},
		{name: "window inverted", line: `alice@example.com valid-after="20260101Z",valid-before="20250101Z" ` + k, err: "not after valid-after"},
		{name: "no key", line: "alice@example.com", err: "want: principals"},
		{name: "no principals", line: k, err: `the line starts with key type "ssh-ed25519": the principals field is missing`},
		{name: "sk key kept", line: "alice@example.com sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIFcLqLFIuNqBRbyeZNJpcXMj0lb/kbMGDHBRqBGgdgRyAAAABHNzaDo=", check: func(t *testing.T, e Entry) {
			if e.Key.Type() != ssh.KeyAlgoSKED25519 {
				t.Fatalf("%+v", e)
			}
		}},
		{name: "bad key", line: "alice@example.com ssh-ed25519 AAAAnotbase64", err: "no public key"},
		{name: "empty principal", line: "alice@example.com,, " + k, err: "empty principal"},
		{name: "unterminated quote", line: `"alice ` + k, err: "unterminated quote"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := "# trusted signers\n\n" + tc.line + "\n"
			as, err := ParseAllowedSigners("allowed_signers", []byte(data))
			if tc.err != "" {
				if !errors.Is(err, ErrAllowedSigners) || !strings.Contains(err.Error(), "allowed_signers:3: ") || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want allowed_signers:3: ...%s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(as.Entries) != 1 || as.Entries[0].Line != 3 {
				t.Fatalf("entries %+v", as.Entries)
			}
			tc.check(t, as.Entries[0])
		})
	}
	if _, err := ParseAllowedSigners("big", make([]byte, MaxAllowedSignersSize+1)); !errors.Is(err, ErrAllowedSigners) {
		t.Fatalf("oversized file: %v", err)
	}
}

func TestAllowedSignersVerify(t *testing.T) {
	alice, bob, eve := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	file := strings.Join([]string{
		"alice@example.com " + authorized(t, alice),
		`*@ops.example.com,!intern@ops.example.com namespaces="trove" ` + authorized(t, bob),
		`carol@example.com valid-after="20250101Z",valid-before="20260101Z" ` + authorized(t, eve),
	}, "\n")
	as, err := ParseAllowedSigners("allowed_signers", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	roles, err := ParseRoles("roles.yaml", []byte("version: 1\nroles:\n  model-risk: [alice@example.com, ci@ops.example.com]\n  ml-lead: [alice@example.com]\n"))
	if err != nil {
		t.Fatal(err)
	}
	as.Roles = roles
	msg := []byte("m")
	sign := func(s ssh.Signer, ns string) []byte {
		b, err := Sign(s, ns, msg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		sig        []byte
		ns, who    string
		at         time.Time
		principals []string
		roles      []string
		err        error
	}{
		{name: "alice as herself", sig: sign(alice, "trove"), ns: "trove", who: "alice@example.com", at: now,
			principals: []string{"alice@example.com"}, roles: []string{"ml-lead", "model-risk"}},
		{name: "alice found by key", sig: sign(alice, "trove"), ns: "trove", at: now,
			principals: []string{"alice@example.com"}, roles: []string{"ml-lead", "model-risk"}},
		{name: "alice as bob", sig: sign(alice, "trove"), ns: "trove", who: "bob@example.com", at: now, err: ErrUnknownSigner},
		{name: "wildcard principal", sig: sign(bob, "trove"), ns: "trove", who: "ci@ops.example.com", at: now,
			principals: []string{"ci@ops.example.com"}, roles: []string{"model-risk"}},
		{name: "negated principal", sig: sign(bob, "trove"), ns: "trove", who: "intern@ops.example.com", at: now, err: ErrUnknownSigner},
		{name: "pattern grants no role", sig: sign(bob, "trove"), ns: "trove", at: now,
			principals: []string{"!intern@ops.example.com", "*@ops.example.com"}},
		{name: "namespace restricted", sig: sign(bob, "git"), ns: "git", who: "ci@ops.example.com", at: now, err: ErrUnknownSigner},
		{name: "inside window", sig: sign(eve, "trove"), ns: "trove", who: "carol@example.com", at: now, principals: []string{"carol@example.com"}},
		{name: "before window", sig: sign(eve, "trove"), ns: "trove", who: "carol@example.com", at: now.AddDate(-1, 0, 0), err: ErrUnknownSigner},
		{name: "after window", sig: sign(eve, "trove"), ns: "trove", who: "carol@example.com", at: now.AddDate(1, 0, 0), err: ErrUnknownSigner},
		{name: "unknown key", sig: sign(testKey(t, 9), "trove"), ns: "trove", at: now, err: ErrUnknownSigner},
		{name: "namespace mismatch", sig: sign(alice, "git"), ns: "trove", at: now, err: ErrNamespace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := as.Verify(tc.sig, msg, tc.ns, tc.who, tc.at)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(v.Principals, tc.principals) || !slices.Equal(v.Roles, tc.roles) {
				t.Fatalf("principals %q roles %q, want %q %q", v.Principals, v.Roles, tc.principals, tc.roles)
			}
		})
	}
	if got := roles.Unknown(as); len(got) != 0 {
		t.Fatalf("unknown principals %q", got)
	}
}

func TestMatchPattern(t *testing.T) {
	for _, tc := range []struct {
		s, p string
		want bool
	}{
		{"alice@example.com", "alice@example.com", true},
		{"alice@example.com", "*@example.com", true},
		{"alice@example.com", "a?ice@*", true},
		{"alice@example.com", "*@example.org", false},
		{"", "*", true},
		{"a", "", false},
		{strings.Repeat("a", 64) + "b", strings.Repeat("*a", 32) + "*c", false}, // linear, not exponential
	} {
		if got := matchPattern(tc.s, tc.p); got != tc.want {
			t.Errorf("matchPattern(%q, %q) = %v", tc.s, tc.p, got)
		}
	}
}

func TestParseRoles(t *testing.T) {
	r, err := ParseRoles("roles.yaml", []byte("version: 1\nroles:\n  model-risk: [bob@x, alice@x, bob@x]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Members("model-risk"); !slices.Equal(got, []string{"alice@x", "bob@x"}) {
		t.Fatalf("members %q", got)
	}
	if got := r.For("carol@x"); got != nil {
		t.Fatalf("carol has %q", got)
	}
	for _, tc := range []struct{ name, doc, err string }{
		{"no version", "roles: {}\n", "1:1: version: required"},
		{"bad version", "version: 2\n", "1:10: version: want 1"},
		{"unknown key", "version: 1\nsigners: {}\n", `2:1: unknown key "signers"`},
		{"pattern", "version: 1\nroles:\n  a: ['*@x']\n", "3:7: role \"a\": want a literal principal"},
		{"bad role", "version: 1\nroles:\n  Model Risk: [a@x]\n", `3:3: role name "Model Risk"`},
		{"duplicate role", "version: 1\nroles:\n  a: [a@x]\n  a: [b@x]\n", `4:3: role "a" listed twice`},
		{"not a list", "version: 1\nroles:\n  a: a@x\n", "3:6: role \"a\": want a list"},
		{"alias bomb", "version: 1\na: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n", "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRoles("roles.yaml", []byte(tc.doc))
			if !errors.Is(err, ErrRoles) || !strings.Contains(err.Error(), "roles.yaml:"+tc.err) && !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

func FuzzParseAllowedSigners(f *testing.F) {
	k := authorized(f, testKey(f, 1))
	f.Add([]byte("alice@example.com " + k + "\n"))
	f.Add([]byte(`"a b",c namespaces="git",valid-after="20250101Z" ` + k + " c\n# x\n"))
	f.Add([]byte("x cert-authority " + k))
	f.Fuzz(func(t *testing.T, b []byte) {
		as, err := ParseAllowedSigners("f", b)
		if err != nil {
			return
		}
		for _, e := range as.Entries {
			if e.Key == nil || len(e.Principals) == 0 {
				t.Fatalf("entry without key or principals: %+v", e)
			}
		}
	})
}
