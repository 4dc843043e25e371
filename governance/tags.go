package governance

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Action is what a registry tag does, in GTO's words.
type Action string

// Registry actions. trove creates register, deregister (`trove deprecate
// NAME@VERSION`), deprecate (`trove deprecate NAME`) and assign (`trove
// promote`); it reads unassign and create too, as GTO writes them.
const (
	ActionRegister   Action = "register"   // NAME@vX.Y.Z
	ActionDeregister Action = "deregister" // NAME@vX.Y.Z!#N
	ActionDeprecate  Action = "deprecate"  // NAME@deprecated#N
	ActionCreate     Action = "create"     // NAME@created (GTO; nothing to do)
	ActionAssign     Action = "assign"     // NAME#STAGE#N
	ActionUnassign   Action = "unassign"   // NAME#STAGE!#N
)

// TagName is a registry tag name, parsed.
type TagName struct {
	Name    string // the model: trove's artifact name, or GTO's [DIR=]NAME
	Action  Action
	Version string // vX.Y.Z..., for register and deregister
	Stage   string // for assign and unassign
	Counter int    // the #N suffix; 0 when there is none
}

// ErrNotRegistryTag: a tag name in neither trove's nor GTO's registry format.
var ErrNotRegistryTag = errors.New("not a registry tag")

var (
	// A model name: trove's artifact names (letters, digits, '.', '_', '-') and
	// GTO's (lowercase, digits, '-', '/', with an optional "DIR=" prefix). Neither
	// contains '@', '#' or '!', which is what makes a tag name unambiguous.
	tagModelRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:[A-Za-z0-9_./-]+=)?[A-Za-z0-9][A-Za-z0-9._/-]*$`)
	})
	// A stage name, as GTO allows it.
	tagStageRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9](?:[a-z0-9/-]*[a-z0-9])?$`) })
	// Semantic versioning 2.0.0 with GTO's leading "v".
	semverRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)` +
			`(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
			`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
	})
	stageNameRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`) })
)

// ValidStage reports whether s can name a stage: lowercase letters, digits and
// inner '-' (what GTO accepts, without its '/').
func ValidStage(s string) bool { return len(s) <= 64 && stageNameRe().MatchString(s) }

// ValidModelName reports whether s can name a model that trove registers: an
// artifact name (manifest.ValidName).
func ValidModelName(s string) bool { return len(s) <= 128 && nameRe().MatchString(s) }

var nameRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`) })

// ParseTagName parses a registry tag name in GTO's format, which trove writes:
//
//	NAME@vX.Y.Z        register a version (semantic versioning, with GTO's "v")
//	NAME@vX.Y.Z!#N     deregister it (trove deprecate NAME@vX.Y.Z)
//	NAME@deprecated#N  deprecate the model
//	NAME#STAGE#N       assign a stage (trove promote)
//	NAME#STAGE!#N      unassign it
//
// Any of them may end in #N or not (GTO's "simple" notation omits it);
// NAME@created is read and means nothing. Anything else (v1.0, foo@bar,
// NAME@1.0.0, NAME#Prod) is an error wrapping ErrNotRegistryTag.
func ParseTagName(s string) (TagName, error) {
	bad := func(why string) (TagName, error) {
		return TagName{}, fmt.Errorf("%w: %q %s", ErrNotRegistryTag, s, why)
	}
	i := strings.IndexAny(s, "@#")
	if i < 0 {
		return bad("has no '@' or '#'")
	}
	t := TagName{Name: s[:i]}
	if !tagModelRe().MatchString(t.Name) {
		return bad("does not start with a model name")
	}
	rest := s[i:]
	// The counter: a last "#digits" after the action part.
	if j := strings.LastIndexByte(rest, '#'); j > 0 {
		if digits := rest[j+1:]; digits != "" && allDigits(digits) {
			n, err := strconv.Atoi(digits)
			if err != nil || n <= 0 {
				return bad("has a malformed counter")
			}
			t.Counter, rest = n, rest[:j]
		}
	}
	cancel := strings.HasSuffix(rest, "!")
	rest = strings.TrimSuffix(rest, "!")
	switch rest[0] {
	case '@':
		v := rest[1:]
		switch {
		case v == "deprecated" && !cancel:
			t.Action = ActionDeprecate
		case v == "created" && !cancel:
			t.Action = ActionCreate
		case semverRe().MatchString(v):
			t.Version, t.Action = v, ActionRegister
			if cancel {
				t.Action = ActionDeregister
			}
		default:
			return bad("has no version of the form vMAJOR.MINOR.PATCH after '@'")
		}
	case '#':
		st := rest[1:]
		if !tagStageRe().MatchString(st) {
			return bad("has no valid stage after '#'")
		}
		t.Stage, t.Action = st, ActionAssign
		if cancel {
			t.Action = ActionUnassign
		}
	}
	return t, nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// String formats the tag name; ParseTagName(t.String()) gives t back.
func (t TagName) String() string {
	var b strings.Builder
	b.WriteString(t.Name)
	switch t.Action {
	case ActionRegister, ActionDeregister:
		b.WriteString("@" + t.Version)
		if t.Action == ActionDeregister {
			b.WriteByte('!')
		}
	case ActionDeprecate:
		b.WriteString("@deprecated")
	case ActionCreate:
		b.WriteString("@created")
	case ActionAssign, ActionUnassign:
		b.WriteString("#" + t.Stage)
		if t.Action == ActionUnassign {
			b.WriteByte('!')
		}
	}
	if t.Counter > 0 {
		fmt.Fprintf(&b, "#%d", t.Counter)
	}
	return b.String()
}

// semver is a parsed semantic version.
type semver struct {
	major, minor, patch int
	pre                 []string
}

// ParseVersion checks a version: "v1.2.3" (or "1.2.3", to which the "v" is
// added), with optional pre-release and build parts.
func ParseVersion(s string) (string, error) {
	v := s
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	if !semverRe().MatchString(v) {
		return "", fmt.Errorf("%w %q: want vMAJOR.MINOR.PATCH, e.g. v1.2.0", ErrBadVersion, s)
	}
	return v, nil
}

func parseSemver(v string) (semver, bool) {
	m := semverRe().FindStringSubmatch(v)
	if m == nil {
		return semver{}, false
	}
	var s semver
	s.major, _ = strconv.Atoi(m[1])
	s.minor, _ = strconv.Atoi(m[2])
	s.patch, _ = strconv.Atoi(m[3])
	if m[4] != "" {
		s.pre = strings.Split(m[4], ".")
	}
	return s, true
}

func (s semver) String() string {
	v := fmt.Sprintf("v%d.%d.%d", s.major, s.minor, s.patch)
	if len(s.pre) > 0 {
		v += "-" + strings.Join(s.pre, ".")
	}
	return v
}

// CompareVersions orders two versions by semantic versioning precedence
// (build metadata ignored); an invalid version sorts before every valid one.
func CompareVersions(a, b string) int {
	sa, oka := parseSemver(a)
	sb, okb := parseSemver(b)
	switch {
	case !oka && !okb:
		return strings.Compare(a, b)
	case !oka:
		return -1
	case !okb:
		return 1
	}
	for _, d := range []int{sa.major - sb.major, sa.minor - sb.minor, sa.patch - sb.patch} {
		if d != 0 {
			return sign(d)
		}
	}
	// A pre-release sorts before the release.
	switch {
	case len(sa.pre) == 0 && len(sb.pre) == 0:
		return 0
	case len(sa.pre) == 0:
		return 1
	case len(sb.pre) == 0:
		return -1
	}
	for i := 0; i < len(sa.pre) && i < len(sb.pre); i++ {
		x, y := sa.pre[i], sb.pre[i]
		nx, ex := strconv.Atoi(x)
		ny, ey := strconv.Atoi(y)
		switch {
		case ex == nil && ey == nil:
			if nx != ny {
				return sign(nx - ny)
			}
		case ex == nil:
			return -1 // numeric identifiers sort before alphanumeric ones
		case ey == nil:
			return 1
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	return sign(len(sa.pre) - len(sb.pre))
}

func sign(d int) int {
	switch {
	case d < 0:
		return -1
	case d > 0:
		return 1
	}
	return 0
}

// Bump parts.
const (
	BumpMajor = "major"
	BumpMinor = "minor"
	BumpPatch = "patch"
)

// BumpVersion returns the version after v: the next major, minor or patch
// release. A pre-release bumps to its release (v1.2.0-rc.1, patch: v1.2.0).
// An empty v gives v0.0.1 for any part, as GTO does for a first version.
func BumpVersion(v, part string) (string, error) {
	if v == "" {
		switch part {
		case BumpMajor:
			return "v1.0.0", nil
		case BumpMinor:
			return "v0.1.0", nil
		case BumpPatch:
			return "v0.0.1", nil
		}
	}
	s, ok := parseSemver(v)
	if !ok {
		return "", fmt.Errorf("%w %q", ErrBadVersion, v)
	}
	pre := len(s.pre) > 0
	s.pre = nil
	switch part {
	case BumpMajor:
		if !pre || s.minor != 0 || s.patch != 0 {
			s.major++
		}
		s.minor, s.patch = 0, 0
	case BumpMinor:
		if !pre || s.patch != 0 {
			s.minor++
		}
		s.patch = 0
	case BumpPatch:
		if !pre {
			s.patch++
		}
	default:
		return "", fmt.Errorf("bump %q: want major, minor or patch", part)
	}
	return s.String(), nil
}
