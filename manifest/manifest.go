package manifest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/trove-dev/trove/objects"
)

// FormatVersion is the manifest format this trove writes and the newest it reads.
const FormatVersion = 1

// Ext is the suffix of a manifest file: data/train.csv is described by
// data/train.csv.trove.
const Ext = ".trove"

// MaxManifestSize bounds what Decode will read.
const MaxManifestSize = 4 << 20

// Kinds of artifact.
const (
	KindDataset  = "dataset"
	KindModel    = "model"
	KindArtifact = "artifact"
)

// Types of tracked path.
const (
	TypeFile = "file"
	TypeDir  = "dir"
)

var (
	// ErrInvalid is returned (wrapped) for a manifest that cannot be decoded or breaks
	// the spec.
	ErrInvalid = errors.New("invalid manifest")
	// ErrNewerFormat is returned (wrapped) for a manifest written by a newer trove.
	ErrNewerFormat = errors.New("manifest format is newer than this trove")
	// ErrNotCanonical is returned (wrapped) for a manifest whose bytes are not the
	// canonical encoding of its content: it was edited by hand or by another tool.
	ErrNotCanonical = errors.New("manifest is not in canonical form")
)

// Chunker records how the content was split. Fields are in JSON key order.
type Chunker struct {
	Algorithm string `json:"algorithm"`
	Avg       int    `json:"avg"`
	Max       int    `json:"max"`
	Min       int    `json:"min"`
}

// Params returns the chunker parameters.
func (c Chunker) Params() objects.ChunkerParams {
	return objects.ChunkerParams{Min: c.Min, Avg: c.Avg, Max: c.Max}
}

// DefaultChunker is what trove records today.
func DefaultChunker() Chunker {
	p := objects.DefaultChunkerParams()
	return Chunker{Algorithm: objects.ChunkerName, Min: p.Min, Avg: p.Avg, Max: p.Max}
}

// Code is the source code state that produced an artifact.
type Code struct {
	Commit string `json:"commit"`
	Dirty  bool   `json:"dirty"`
	Remote string `json:"remote,omitempty"`
}

// Input is one artifact consumed by the step that produced this one.
type Input struct {
	Digest objects.ID `json:"digest"`
	Kind   string     `json:"kind,omitempty"`
	Name   string     `json:"name,omitempty"`
	Path   string     `json:"path"`
	Role   string     `json:"role,omitempty"`
}

// Lineage says what produced an artifact. Times are RFC 3339 in UTC, as asserted
// by the machine that ran the step.
type Lineage struct {
	Code        *Code             `json:"code,omitempty"`
	Command     []string          `json:"command,omitempty"`
	Ended       string            `json:"ended,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
	Inputs      []Input           `json:"inputs,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	Started     string            `json:"started,omitempty"`
	Trigger     string            `json:"trigger,omitempty"`
}

// Column describes one column of a tabular dataset.
type Column struct {
	Name  string `json:"name"`
	Nulls int64  `json:"nulls"`
	Type  string `json:"type"`
}

// Profile summarizes a tabular dataset at add time.
type Profile struct {
	Columns []Column `json:"columns,omitempty"`
	Format  string   `json:"format"`
	Rows    int64    `json:"rows"`
}

// Manifest describes one tracked file or directory. It is committed to git beside
// the data. Field order is JSON key order, which makes the encoding canonical; see
// SPEC.md.
type Manifest struct {
	Chunker Chunker            `json:"chunker"`
	Digest  objects.ID         `json:"digest"`
	Files   int64              `json:"files"`
	Kind    string             `json:"kind"`
	Lineage *Lineage           `json:"lineage,omitempty"`
	Meta    map[string]string  `json:"meta,omitempty"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
	Name    string             `json:"name"`
	Object  objects.ID         `json:"object"`
	Path    string             `json:"path"`
	Profile *Profile           `json:"profile,omitempty"`
	Size    int64              `json:"size"`
	Trove   int                `json:"trove"`
	Type    string             `json:"type"`
}

// The validators below are written out rather than regular expressions: every
// manifest read is validated, and compiling the patterns cost a short command
// such as trove diff about a millisecond.

// ValidName reports whether s can name an artifact (and a registry entry):
// [A-Za-z0-9][A-Za-z0-9._-]{0,127}.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 128 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// ValidMetaKey reports whether s can be a metadata key: [a-z][a-z0-9_.-]{0,63}.
func ValidMetaKey(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// validCommit reports whether s is a full git commit id in lowercase hex (SHA-1
// or SHA-256).
func validCommit(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Validate checks the manifest against the spec.
func (m *Manifest) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if m.Trove > FormatVersion {
		return fmt.Errorf("%w: format %d, this trove reads up to %d", ErrNewerFormat, m.Trove, FormatVersion)
	}
	if m.Trove != FormatVersion {
		return bad("format version %d is not valid", m.Trove)
	}
	switch m.Kind {
	case KindDataset, KindModel, KindArtifact:
	default:
		return bad("kind %q: want dataset, model or artifact", m.Kind)
	}
	switch m.Type {
	case TypeFile:
		if m.Files != 1 {
			return bad("a file manifest has files=1, not %d", m.Files)
		}
	case TypeDir:
		if m.Files < 0 {
			return bad("negative file count")
		}
	default:
		return bad("type %q: want file or dir", m.Type)
	}
	if !ValidName(m.Name) {
		return bad("name %q: use letters, digits, '.', '_' and '-' (at most 128)", m.Name)
	}
	if err := objects.ValidPath(m.Path); err != nil || bytes.ContainsRune([]byte(m.Path), '/') {
		return bad("path %q must be a plain file or directory name beside the manifest", m.Path)
	}
	if m.Size < 0 {
		return bad("negative size")
	}
	if m.Digest.IsZero() || m.Object.IsZero() {
		return bad("digest and object are required")
	}
	if m.Chunker.Algorithm != objects.ChunkerName {
		return bad("chunker %q is not supported (want %s)", m.Chunker.Algorithm, objects.ChunkerName)
	}
	if err := m.Chunker.Params().Validate(); err != nil {
		return bad("chunker: %v", err)
	}
	for k := range m.Meta {
		if !ValidMetaKey(k) {
			return bad("metadata key %q: use lowercase letters, digits, '_', '.', '-'", k)
		}
	}
	for k, v := range m.Metrics {
		if k == "" || math.IsNaN(v) || math.IsInf(v, 0) {
			return bad("metric %q must be named and finite", k)
		}
	}
	if l := m.Lineage; l != nil {
		if l.Code != nil && !validCommit(l.Code.Commit) {
			return bad("lineage code commit %q: want 40 or 64 lowercase hex digits", l.Code.Commit)
		}
		for _, t := range []struct{ name, v string }{{"started", l.Started}, {"ended", l.Ended}} {
			if t.v == "" {
				continue
			}
			if _, err := time.Parse(time.RFC3339, t.v); err != nil || !strings.HasSuffix(t.v, "Z") {
				return bad("lineage %s %q: want an RFC 3339 time in UTC (ending in Z)", t.name, t.v)
			}
		}
		for i, in := range l.Inputs {
			if in.Digest.IsZero() || in.Path == "" {
				return bad("lineage input %d needs a digest and a path", i)
			}
			if objects.ValidPath(in.Path) != nil {
				return bad("lineage input %d: path %q must be a clean repository-relative slash path", i, in.Path)
			}
			if in.Name != "" && !ValidName(in.Name) {
				return bad("lineage input %d: name %q is not a valid artifact name", i, in.Name)
			}
			switch in.Kind {
			case "", KindDataset, KindModel, KindArtifact:
			default:
				return bad("lineage input %d: kind %q: want dataset, model or artifact", i, in.Kind)
			}
		}
	}
	if p := m.Profile; p != nil {
		if p.Format == "" || p.Rows < 0 {
			return bad("profile needs a format and a non-negative row count")
		}
		for i, c := range p.Columns {
			if c.Name == "" || c.Nulls < 0 {
				return bad("profile column %d needs a name and a non-negative null count", i)
			}
		}
	}
	return nil
}

// Encode returns the canonical encoding of m: JSON with keys sorted, two-space
// indent, no HTML escaping, and a trailing newline.
func Encode(m *Manifest) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encode(m)
}

func encode(m *Manifest) ([]byte, error) {
	if m.Lineage != nil && len(m.Lineage.Inputs) > 1 {
		// Sort a copy: encoding must not modify (or race on) the caller's manifest.
		// The order is total, so every set of inputs has exactly one encoding.
		c, l := *m, *m.Lineage
		l.Inputs = slices.Clone(l.Inputs)
		slices.SortFunc(l.Inputs, compareInputs)
		c.Lineage = &l
		m = &c
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// compareInputs orders lineage inputs by role, then path, digest, name and kind,
// comparing bytes.
func compareInputs(a, b Input) int {
	return cmp.Or(
		strings.Compare(a.Role, b.Role),
		strings.Compare(a.Path, b.Path),
		bytes.Compare(a.Digest[:], b.Digest[:]),
		strings.Compare(a.Name, b.Name),
		strings.Compare(a.Kind, b.Kind),
	)
}

// Decode parses a manifest strictly: unknown fields, trailing data, a newer format,
// an invalid field or a non-canonical encoding are errors.
func Decode(b []byte) (*Manifest, error) {
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxManifestSize)
	}
	// Read the version first, so a newer manifest gets "upgrade trove" rather than a
	// complaint about fields this version does not know.
	var probe struct {
		Trove json.RawMessage `json:"trove"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, jsonErr(b, err))
	}
	var v int
	if len(probe.Trove) == 0 || json.Unmarshal(probe.Trove, &v) != nil {
		return nil, fmt.Errorf("%w: no \"trove\" format version", ErrInvalid)
	}
	if v > FormatVersion {
		return nil, fmt.Errorf("%w: format %d, this trove reads up to %d", ErrNewerFormat, v, FormatVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, jsonErr(b, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	canon, err := encode(&m)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, b) {
		return nil, fmt.Errorf("%w (edited by hand?)", ErrNotCanonical)
	}
	return &m, nil
}

// jsonErr adds a line number to JSON syntax errors.
func jsonErr(b []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))
		return fmt.Errorf("line %d: %v", line, err)
	}
	return err
}
