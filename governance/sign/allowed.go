package sign

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// MaxAllowedSignersSize bounds ParseAllowedSigners.
const MaxAllowedSignersSize = 1 << 20

var (
	// ErrAllowedSigners is returned (wrapped) for an allowed-signers file trove cannot
	// read.
	ErrAllowedSigners = errors.New("invalid allowed-signers file")
	// ErrUnknownSigner is returned (wrapped) when a signature verifies but no entry of
	// the allowed-signers file accepts its key for the principal, namespace and time.
	ErrUnknownSigner = errors.New("signer is not allowed")
)

// Entry is one line of an allowed-signers file.
type Entry struct {
	// Line is the 1-based line number in the file.
	Line int
	// Principals is the pattern-list of identities the key may sign as
	// ("alice@example.com", "*@example.com", "!mallory@example.com").
	Principals []string
	// Namespaces restricts the key to these namespace patterns; nil allows any.
	Namespaces []string
	// ValidAfter and ValidBefore bound when the key is trusted; zero means unbounded.
	ValidAfter, ValidBefore time.Time
	Key                     ssh.PublicKey
	Comment                 string
}

// AllowedSigners is a parsed allowed-signers file: the OpenSSH format that
// `ssh-keygen -Y verify -f` and git's gpg.ssh.allowedSignersFile read, so one file
// serves trove, ssh-keygen and git verify-tag.
//
// Roles (which principals may approve as "model-risk", say) are not in this file,
// because OpenSSH rejects options it does not know: they live in a separate roles
// file (ParseRoles). Set Roles to have Verify report them.
type AllowedSigners struct {
	Entries []Entry
	Roles   *Roles
}

// Verified is what AllowedSigners.Verify found.
type Verified struct {
	Key ssh.PublicKey
	// Fingerprint is the key's SHA256 fingerprint as ssh-keygen -l prints it.
	Fingerprint string
	// Principals are, when a principal was asked for, just that principal; otherwise
	// the principals fields of every entry that accepts the key (what
	// `ssh-keygen -Y find-principals` prints), sorted and deduplicated.
	Principals []string
	// Roles are the roles the Roles file grants to those principals, sorted. Patterns
	// in the allowed-signers file grant no roles by themselves: roles are given to
	// literal principal names.
	Roles []string
}

// ParseAllowedSigners parses an allowed-signers file. name is used in error messages.
//
// Each line is `principals [options] keytype base64 [comment]`; blank lines and lines
// starting with '#' are skipped. Supported options: namespaces="pattern,...",
// valid-after="YYYYMMDD[HHMM[SS]]Z" and valid-before (UTC, with the trailing Z:
// local-time stamps are refused so that a decision does not depend on the time zone of
// the machine that checks it). cert-authority and unknown options are refused with an
// error naming the line, as are certificates. Lines with key types trove does not
// verify (sk-*, DSA) are kept, as OpenSSH keeps them; Verify refuses their
// signatures with ErrUnsupportedKey.
func ParseAllowedSigners(name string, data []byte) (*AllowedSigners, error) {
	if len(data) > MaxAllowedSignersSize {
		return nil, fmt.Errorf("%w: %s is %d bytes; the limit is %d", ErrAllowedSigners, name, len(data), MaxAllowedSignersSize)
	}
	as := &AllowedSigners{}
	for i, raw := range bytes.Split(data, []byte("\n")) {
		lineNo := i + 1
		line := strings.TrimRight(string(raw), "\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		e, err := parseEntry(trimmed)
		if err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %v", ErrAllowedSigners, name, lineNo, err)
		}
		e.Line = lineNo
		as.Entries = append(as.Entries, e)
	}
	return as, nil
}

func parseEntry(line string) (Entry, error) {
	var e Entry
	principals, rest, err := firstField(line)
	if err != nil {
		return e, err
	}
	if principals == "" || strings.TrimLeft(rest, " \t") == "" {
		return e, errors.New("want: principals [options] keytype base64-key [comment]")
	}
	e.Principals = strings.Split(principals, ",")
	if slices.Contains(e.Principals, "") {
		return e, fmt.Errorf("empty principal in %q", principals)
	}
	key, comment, options, _, err := ssh.ParseAuthorizedKey([]byte(rest))
	if err != nil {
		if looksLikeKeyType(principals) {
			return e, fmt.Errorf("the line starts with key type %q: the principals field is missing", principals)
		}
		return e, fmt.Errorf("no public key after the principals: %v", err)
	}
	if _, ok := key.(*ssh.Certificate); ok {
		return e, errors.New("a certificate is not an allowed signer: list the plain key")
	}
	// Key types trove does not sign with (sk-*, DSA) are kept, as OpenSSH keeps
	// them: a shared file stays readable, and Verify refuses their signatures.
	e.Key, e.Comment = key, comment
	for _, opt := range options {
		name, value, hasValue := strings.Cut(opt, "=")
		name = strings.ToLower(name)
		if hasValue {
			if len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
				return e, fmt.Errorf("option %s: want %s=\"value\"", name, name)
			}
			value = value[1 : len(value)-1]
		}
		switch {
		case name == "cert-authority":
			return e, errors.New("option cert-authority is not supported by trove: list the signers' own keys")
		case name == "namespaces" && hasValue:
			if e.Namespaces != nil {
				return e, errors.New("option namespaces given twice")
			}
			e.Namespaces = strings.Split(value, ",")
		case (name == "valid-after" || name == "valid-before") && hasValue:
			t, err := parseStamp(value)
			if err != nil {
				return e, fmt.Errorf("option %s: %v", name, err)
			}
			if name == "valid-after" {
				e.ValidAfter = t
			} else {
				e.ValidBefore = t
			}
		default:
			return e, fmt.Errorf("unsupported option %q (trove reads namespaces, valid-after and valid-before)", opt)
		}
	}
	if !e.ValidAfter.IsZero() && !e.ValidBefore.IsZero() && !e.ValidBefore.After(e.ValidAfter) {
		return e, errors.New("valid-before is not after valid-after")
	}
	return e, nil
}

func looksLikeKeyType(s string) bool {
	return strings.HasPrefix(s, "ssh-") || strings.HasPrefix(s, "ecdsa-") || strings.HasPrefix(s, "sk-")
}

// firstField splits off the principals field: white-space delimited, with double
// quotes grouping (and removed), as OpenSSH reads it.
func firstField(line string) (field, rest string, err error) {
	var b strings.Builder
	inQuote := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			inQuote = !inQuote
		case !inQuote && (c == ' ' || c == '\t'):
			return b.String(), line[i:], nil
		default:
			b.WriteByte(c)
		}
	}
	if inQuote {
		return "", "", errors.New("unterminated quote in principals")
	}
	return b.String(), "", nil
}

// parseStamp reads YYYYMMDD[HHMM[SS]]Z as UTC.
func parseStamp(s string) (time.Time, error) {
	v, ok := strings.CutSuffix(s, "Z")
	if !ok {
		return time.Time{}, fmt.Errorf("timestamp %q has no trailing Z: trove reads UTC stamps only (YYYYMMDD[HHMM[SS]]Z)", s)
	}
	var layout string
	switch len(v) {
	case 8:
		layout = "20060102"
	case 12:
		layout = "200601021504"
	case 14:
		layout = "20060102150405"
	default:
		return time.Time{}, fmt.Errorf("timestamp %q: want YYYYMMDD[HHMM[SS]]Z", s)
	}
	t, err := time.ParseInLocation(layout, v, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q: want YYYYMMDD[HHMM[SS]]Z", s)
	}
	return t, nil
}

// accepts reports why e does or does not accept key in namespace at time at for
// principal ("" = any principal).
func (e *Entry) accepts(key ssh.PublicKey, namespace, principal string, at time.Time) bool {
	if !bytes.Equal(e.Key.Marshal(), key.Marshal()) {
		return false
	}
	if principal != "" && !matchPatternList(principal, e.Principals) {
		return false
	}
	if e.Namespaces != nil && !matchPatternList(namespace, e.Namespaces) {
		return false
	}
	if !e.ValidAfter.IsZero() && at.Before(e.ValidAfter) {
		return false
	}
	if !e.ValidBefore.IsZero() && at.After(e.ValidBefore) {
		return false
	}
	return true
}

// Verify checks armored as a signature of message in namespace made by a key this
// file trusts at time at. With principal set, an entry matching that principal must
// accept the key (ssh-keygen -Y verify -I); with principal "", any entry will do and
// Verified lists the principals (ssh-keygen -Y find-principals). at is the time the
// signature is claimed to have been made, or the evaluation time: the caller decides
// and passes it in.
//
// Errors wrap ErrMalformed, ErrNamespace, ErrUnsupportedKey, ErrBadSignature or
// ErrUnknownSigner.
func (a *AllowedSigners) Verify(armored, message []byte, namespace, principal string, at time.Time) (*Verified, error) {
	s, err := ParseSignature(armored)
	if err != nil {
		return nil, err
	}
	if err := s.verify(message, namespace); err != nil {
		return nil, err
	}
	v := &Verified{Key: s.PublicKey, Fingerprint: ssh.FingerprintSHA256(s.PublicKey)}
	var known bool
	for i := range a.Entries {
		e := &a.Entries[i]
		if bytes.Equal(e.Key.Marshal(), s.PublicKey.Marshal()) {
			known = true
		}
		if !e.accepts(s.PublicKey, namespace, principal, at) {
			continue
		}
		if principal != "" {
			v.Principals = []string{principal}
			break
		}
		v.Principals = append(v.Principals, e.Principals...)
	}
	if len(v.Principals) == 0 {
		who := "any principal"
		if principal != "" {
			who = fmt.Sprintf("principal %q", principal)
		}
		if !known {
			return nil, fmt.Errorf("%w: key %s is not in the allowed-signers file", ErrUnknownSigner, v.Fingerprint)
		}
		return nil, fmt.Errorf("%w: no allowed-signers entry accepts key %s for %s in namespace %q at %s", ErrUnknownSigner,
			v.Fingerprint, who, namespace, at.UTC().Format(time.RFC3339))
	}
	slices.Sort(v.Principals)
	v.Principals = slices.Compact(v.Principals)
	if a.Roles != nil {
		for _, p := range v.Principals {
			if !strings.ContainsAny(p, "*?!") {
				v.Roles = append(v.Roles, a.Roles.For(p)...)
			}
		}
		slices.Sort(v.Roles)
		v.Roles = slices.Compact(v.Roles)
	}
	return v, nil
}

// matchPatternList matches s against an OpenSSH pattern-list: it matches if some
// pattern matches and no negated ("!pattern") pattern does.
func matchPatternList(s string, patterns []string) bool {
	got := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		if matchPattern(s, p) {
			if neg {
				return false
			}
			got = true
		}
	}
	return got
}

// matchPattern matches s against a glob with '*' (any run) and '?' (one byte), in
// linear time (the classic two-pointer walk, no recursion).
func matchPattern(s, p string) bool {
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			si++
			pi++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
