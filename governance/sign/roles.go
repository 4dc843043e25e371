package sign

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Limits on the roles file, as on every YAML file trove reads from a repository.
const (
	MaxRolesSize  = 1 << 20
	maxRolesNodes = 100_000
	maxRolesDepth = 16
)

// ErrRoles is returned (wrapped) for a roles file trove cannot read.
var ErrRoles = errors.New("invalid roles file")

var roleRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`) })

// Roles maps role names to the principals that hold them. It is read from
// .trove/roles.yaml:
//
//	version: 1
//	roles:
//	  model-risk: [alice@example.com, carol@example.com]
//	  ml-lead: [bob@example.com]
//
// A role lists its members (rather than a principal listing its roles) so that the
// diff that grants someone "model-risk" is one reviewable line under that role.
// Principals are literal names as they appear in the allowed-signers file (patterns
// there grant no roles). The zero Roles grants nothing.
type Roles struct {
	members map[string][]string // role -> sorted principals
}

// ParseRoles parses a roles file; name is used in error messages, which carry
// line:column.
func ParseRoles(name string, data []byte) (*Roles, error) {
	bad := func(n *yaml.Node, format string, args ...any) error {
		if n == nil {
			return fmt.Errorf("%w: %s: %s", ErrRoles, name, fmt.Sprintf(format, args...))
		}
		return fmt.Errorf("%w: %s:%d:%d: %s", ErrRoles, name, n.Line, n.Column, fmt.Sprintf(format, args...))
	}
	if len(data) > MaxRolesSize {
		return nil, bad(nil, "%d bytes; the limit is %d", len(data), MaxRolesSize)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, bad(nil, "%v", err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, bad(nil, "empty; want version: 1 and a roles mapping")
	}
	count := 0
	if n := boundedWalk(&doc, 0, &count); n != nil {
		return nil, bad(n, "document too large or too deeply nested (at most %d nodes, depth %d, aliases expanded)", maxRolesNodes, maxRolesDepth)
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, bad(root, "want a mapping with version and roles")
	}
	r := &Roles{members: map[string][]string{}}
	var sawVersion bool
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := deref(root.Content[i]), deref(root.Content[i+1])
		switch k.Value {
		case "version":
			if v.Kind != yaml.ScalarNode || v.Value != "1" {
				return nil, bad(v, "version: want 1")
			}
			sawVersion = true
		case "roles":
			if v.Kind != yaml.MappingNode {
				return nil, bad(v, "roles: want a mapping of role name to a list of principals")
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				rk, rv := deref(v.Content[j]), deref(v.Content[j+1])
				if rk.Kind != yaml.ScalarNode || !roleRe().MatchString(rk.Value) {
					return nil, bad(rk, "role name %q: use lowercase letters, digits, '_', '.', '-'", rk.Value)
				}
				if _, dup := r.members[rk.Value]; dup {
					return nil, bad(rk, "role %q listed twice", rk.Value)
				}
				if rv.Kind != yaml.SequenceNode {
					return nil, bad(rv, "role %q: want a list of principals", rk.Value)
				}
				var ps []string
				for _, pn := range rv.Content {
					pn = deref(pn)
					if pn.Kind != yaml.ScalarNode || pn.Value == "" || strings.ContainsAny(pn.Value, "*?!, \t") {
						return nil, bad(pn, "role %q: want a literal principal name (no patterns, commas or spaces)", rk.Value)
					}
					ps = append(ps, pn.Value)
				}
				slices.Sort(ps)
				r.members[rk.Value] = slices.Compact(ps)
			}
		default:
			return nil, bad(k, "unknown key %q; want version or roles", k.Value)
		}
	}
	if !sawVersion {
		return nil, bad(root, "version: required; want version: 1")
	}
	return r, nil
}

// For returns the roles principal holds, sorted.
func (r *Roles) For(principal string) []string {
	if r == nil {
		return nil
	}
	var out []string
	for role, ps := range r.members {
		if _, ok := slices.BinarySearch(ps, principal); ok {
			out = append(out, role)
		}
	}
	slices.Sort(out)
	return out
}

// Members returns the principals holding role, sorted.
func (r *Roles) Members(role string) []string {
	if r == nil {
		return nil
	}
	return slices.Clone(r.members[role])
}

// Unknown returns the principals the roles file names that no entry of as accepts,
// sorted: usually a typo or a signer whose key was removed.
func (r *Roles) Unknown(as *AllowedSigners) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, ps := range r.members {
		for _, p := range ps {
			found := false
			for i := range as.Entries {
				if matchPatternList(p, as.Entries[i].Principals) {
					found = true
					break
				}
			}
			if !found {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// boundedWalk counts nodes, following aliases, and returns the node where a limit
// was crossed, or nil.
func boundedWalk(n *yaml.Node, depth int, count *int) *yaml.Node {
	*count++
	if *count > maxRolesNodes || depth > maxRolesDepth {
		return n
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return n
		}
		return boundedWalk(n.Alias, depth+1, count)
	}
	for _, c := range n.Content {
		if bad := boundedWalk(c, depth+1, count); bad != nil {
			return bad
		}
	}
	return nil
}
