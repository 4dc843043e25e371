package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"go.yaml.in/yaml/v3"
)

// Limits on a policy file. A policy is written by people and read by every gate, so
// anything beyond these is a mistake or an attack: YAML aliases can make a 1 KiB file
// expand to gigabytes (the "billion laughs"), and deep nesting exhausts stacks.
const (
	// MaxFileSize is the largest policy file Parse reads.
	MaxFileSize = 1 << 20
	// MaxNodes bounds the YAML nodes in a policy, counted with every alias expanded.
	MaxNodes = 100_000
	// MaxDepth bounds how deeply YAML nodes nest (aliases expanded).
	MaxDepth = 64
	// maxErrors bounds how many problems one Parse reports.
	maxErrors = 50
)

// ErrInvalid is matched (errors.Is) by every error Parse returns.
var ErrInvalid = errors.New("invalid policy")

// Error is one problem in a policy file, at a 1-based line and column (0 when the
// problem concerns the whole file).
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ParseError lists every problem Parse found, in file order.
type ParseError struct {
	Errors []*Error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	for i, x := range e.Errors {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(x.Error())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ParseError) Is(target error) bool { return target == ErrInvalid }

// decoder walks yaml.Nodes, collecting positioned errors.
type decoder struct {
	file          string
	errs          []*Error
	celEnv        *cel.Env // made on the first cel rule
	monitorCELEnv *cel.Env // made on the first cel monitor
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	if len(d.errs) >= maxErrors {
		return
	}
	e := &Error{File: d.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

func (d *decoder) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(d.errs, func(a, b *Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	return &ParseError{Errors: d.errs}
}

// checkBounds walks the tree, expanding aliases, and reports the first node past
// MaxNodes or MaxDepth. It stops at once, so a hostile file costs at most MaxNodes
// steps.
func checkBounds(n *yaml.Node) (bad *yaml.Node, msg string) {
	count := 0
	// via is the first alias on the path from the root: the place in the file to
	// point at when an expansion is what crossed a limit.
	var walk func(n, via *yaml.Node, depth int) bool
	walk = func(n, via *yaml.Node, depth int) bool {
		count++
		at := n
		if via != nil {
			at = via
		}
		switch {
		case count > MaxNodes:
			bad, msg = at, fmt.Sprintf("more than %d YAML nodes (aliases expanded): a policy is never this large; is it an alias bomb?", MaxNodes)
			if via != nil {
				msg = fmt.Sprintf("alias *%s expands to %s", via.Value, msg)
			}
			return false
		case depth > MaxDepth:
			bad, msg = at, fmt.Sprintf("nested more than %d levels deep", MaxDepth)
			return false
		}
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil {
				bad, msg = n, "alias to nothing"
				return false
			}
			if via == nil {
				via = n
			}
			return walk(n.Alias, via, depth+1)
		}
		for _, c := range n.Content {
			if !walk(c, via, depth+1) {
				return false
			}
		}
		return true
	}
	walk(n, nil, 0)
	return bad, msg
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// describe names what a node is, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return strconv.Quote(n.Value)
		case "!!null":
			return "nothing (null)"
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return n.Value
		case "!!timestamp":
			return "the date " + n.Value
		}
		return n.Tag + " " + strconv.Quote(n.Value)
	}
	return "something else"
}

type field struct {
	key      string
	keyNode  *yaml.Node
	valNode  *yaml.Node
	consumed bool
}

// mapping returns the fields of a mapping node, reporting duplicates and merge keys.
// It returns nil (after reporting) when n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, what string) []*field {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: want a mapping, got %s", what, describe(n))
		return nil
	}
	out := []*field{}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s: a key must be a plain name, got %s", what, describe(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.errorf(k, "%s: merge keys (<<) are not supported; write the keys out", what)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, "%s: key %q given twice (first at %d:%d)", what, k.Value, first.Line, first.Column)
			continue
		}
		seen[k.Value] = k
		out = append(out, &field{key: k.Value, keyNode: k, valNode: v})
	}
	return out
}

// take returns the field named key and marks it consumed.
func take(fs []*field, key string) *field {
	for _, f := range fs {
		if f.key == key {
			f.consumed = true
			return f
		}
	}
	return nil
}

// unknown reports every field not consumed.
func (d *decoder) unknown(fs []*field, what string, known []string) {
	for _, f := range fs {
		if f.consumed {
			continue
		}
		msg := fmt.Sprintf("%s: unknown key %q; want one of %s", what, f.key, strings.Join(known, ", "))
		if s := suggest(f.key, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		d.errorf(f.keyNode, "%s", msg)
	}
}

func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		d.errorf(n, "%s: want a string, got %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) name(n *yaml.Node, what string, re *regexp.Regexp, hint string) (string, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return "", false
	}
	if !re.MatchString(s) {
		d.errorf(deref(n), "%s %q: %s", what, s, hint)
		return "", false
	}
	return s, true
}

// strList reads a list of strings; each element is checked by check when non-nil.
func (d *decoder) strList(n *yaml.Node, what string, check func(el *yaml.Node, s string) bool) ([]string, bool) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s: want a list like [a, b], got %s", what, describe(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for _, el := range n.Content {
		s, good := d.str(el, what)
		if good && check != nil {
			good = check(deref(el), s)
		}
		if !good {
			ok = false
			continue
		}
		out = append(out, s)
	}
	return out, ok
}

func (d *decoder) number(n *yaml.Node, what string) (float64, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		d.errorf(n, "%s: want a number, got %s", what, describe(n))
		return 0, false
	}
	var v float64
	if err := n.Decode(&v); err != nil || v != v || v > 1e308 || v < -1e308 {
		d.errorf(n, "%s: want a finite number, got %s", what, n.Value)
		return 0, false
	}
	return v, true
}

func (d *decoder) integer(n *yaml.Node, what string) (int, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.errorf(n, "%s: want a whole number, got %s", what, describe(n))
		return 0, false
	}
	var v int
	if err := n.Decode(&v); err != nil {
		d.errorf(n, "%s: want a whole number, got %s", what, n.Value)
		return 0, false
	}
	return v, true
}

func (d *decoder) boolean(n *yaml.Node, what string) (bool, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errorf(n, "%s: want true or false, got %s", what, describe(n))
		return false, false
	}
	var v bool
	if err := n.Decode(&v); err != nil {
		d.errorf(n, "%s: want true or false, got %s", what, n.Value)
		return false, false
	}
	return v, true
}

var durationRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9]{1,6})([mhdw])$`) })

// duration reads a whole number of minutes, hours, days or weeks: "90m", "24h",
// "30d", "2w". A day is 24 hours; there are no months, whose length varies.
func (d *decoder) duration(n *yaml.Node, what string) (time.Duration, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
		d.errorf(n, "%s: want a duration like 30d, 14d or 24h, got %s", what, describe(n))
		return 0, false
	}
	m := durationRe().FindStringSubmatch(n.Value)
	if m == nil {
		d.errorf(n, "%s: bad duration %q; want a whole number and a unit m, h, d or w, like 30d, 14d or 24h", what, n.Value)
		return 0, false
	}
	v, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
	if v == 0 {
		d.errorf(n, "%s: duration must be more than zero", what)
		return 0, false
	}
	return time.Duration(v) * unit, true
}

// formatDuration writes a duration the way policies spell them.
func formatDuration(x time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case x%day == 0:
		return fmt.Sprintf("%dd", x/day)
	case x%time.Hour == 0:
		return fmt.Sprintf("%dh", x/time.Hour)
	default:
		return fmt.Sprintf("%dm", x/time.Minute)
	}
}

// formatAge writes an observed age for people: whole days past two days, else hours
// and minutes.
func formatAge(x time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case x < 0:
		return "in the future"
	case x >= 2*day:
		return fmt.Sprintf("%dd %dh", x/day, (x%day)/time.Hour)
	case x >= time.Hour:
		return fmt.Sprintf("%dh %dm", x/time.Hour, (x%time.Hour)/time.Minute)
	default:
		return fmt.Sprintf("%dm", x/time.Minute)
	}
}

// suggest returns the known word closest to s, if it is a likely typo.
func suggest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
