package policy

import (
	"bytes"
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// Input is the input document: every fact a decision depends on, gathered by the
// caller (manifests, lineage, registry tags, verified approvals, the remote, the
// clock) so that evaluation is a pure function of it. doc.go lists its JSON form;
// fields are declared in JSON key order so that the encoding has sorted keys.
type Input struct {
	Approvals    []Approval `json:"approvals"`
	Author       string     `json:"author"`
	CurrentStage string     `json:"current_stage"`
	// Now is the evaluation time. It is never implicit: a zero Now makes every rule
	// an error.
	Now          time.Time `json:"now"`
	PolicyDigest string    `json:"policy_digest"`
	// RemotePresent is nil when presence on the remote was not checked.
	RemotePresent *bool        `json:"remote_present"`
	StageHolder   *StageHolder `json:"stage_holder"`
	Subject       Subject      `json:"subject"`
	TargetStage   string       `json:"target_stage"`
}

// Subject is the artifact version being checked or promoted.
type Subject struct {
	Digest  string             `json:"digest"`
	Kind    string             `json:"kind"`
	Lineage *Lineage           `json:"lineage"`
	Meta    map[string]string  `json:"meta"`
	Metrics map[string]float64 `json:"metrics"`
	Name    string             `json:"name"`
	Path    string             `json:"path"`
	Size    int64              `json:"size"`
	Version string             `json:"version"`
}

// Lineage is what produced the subject.
type Lineage struct {
	// Code is nil when no code commit was recorded.
	Code    *Code      `json:"code"`
	Ended   time.Time  `json:"ended,omitzero"`
	Inputs  []InputRef `json:"inputs"`
	Started time.Time  `json:"started,omitzero"`
}

// Code is the state of the code that produced the subject.
type Code struct {
	Commit            string `json:"commit"`
	Dirty             bool   `json:"dirty"`
	OnProtectedBranch bool   `json:"on_protected_branch"`
}

// InputRef is one artifact the subject was made from.
type InputRef struct {
	// AddedAt is when this input version was recorded; zero when unknown.
	AddedAt time.Time         `json:"added_at,omitzero"`
	Digest  string            `json:"digest"`
	Kind    string            `json:"kind"`
	Meta    map[string]string `json:"meta"`
	Path    string            `json:"path"`
	// Profile is nil for inputs that were not profiled (not tabular).
	Profile *Profile `json:"profile"`
	Role    string   `json:"role"`
}

// Profile summarizes a tabular input.
type Profile struct {
	// Columns are in the data's order, which is part of its schema.
	Columns []Column `json:"columns"`
	Rows    int64    `json:"rows"`
}

// Column is one column of a profile.
type Column struct {
	Name  string `json:"name"`
	Nulls int64  `json:"nulls"`
	Type  string `json:"type"`
}

// StageHolder is the version that currently holds the target stage.
type StageHolder struct {
	Digest string `json:"digest"`
	// EvalDigest is the digest of its input with role "eval"; "" if none.
	EvalDigest string `json:"eval_digest"`
	// Inputs are the holder's lineage inputs (data_quality compares profiles).
	Inputs  []InputRef         `json:"inputs"`
	Metrics map[string]float64 `json:"metrics"`
	Version string             `json:"version"`
}

// Approval is one approval record, its signature already checked by the caller
// against the allowed-signers file; Roles come from the roles file.
type Approval struct {
	At             time.Time `json:"at"`
	Digest         string    `json:"digest"`
	PolicyDigest   string    `json:"policy_digest"`
	Roles          []string  `json:"roles"`
	Signer         string    `json:"signer"`
	Stage          string    `json:"stage"`
	ValidSignature bool      `json:"valid_signature"`
}

// Normalize returns a copy of in in canonical form: times in UTC, nil maps and lists
// empty (so the document has {} and [] rather than null), absent lineage an empty
// one, and lists whose order carries no meaning sorted (approvals; inputs by role,
// path, digest; roles). Evaluate and CanonicalJSON normalize first, so callers need
// not.
func Normalize(in Input) Input {
	out := in
	out.Now = in.Now.UTC()
	out.Subject.Meta = cloneMap(in.Subject.Meta)
	out.Subject.Metrics = cloneMap(in.Subject.Metrics)
	lin := Lineage{}
	if in.Subject.Lineage != nil {
		lin = *in.Subject.Lineage
	}
	if lin.Code != nil {
		c := *lin.Code
		lin.Code = &c
	}
	lin.Started, lin.Ended = utc(lin.Started), utc(lin.Ended)
	lin.Inputs = normInputs(lin.Inputs)
	out.Subject.Lineage = &lin
	if in.StageHolder != nil {
		h := *in.StageHolder
		h.Metrics = cloneMap(h.Metrics)
		h.Inputs = normInputs(h.Inputs)
		out.StageHolder = &h
	}
	if in.RemotePresent != nil {
		v := *in.RemotePresent
		out.RemotePresent = &v
	}
	out.Approvals = make([]Approval, len(in.Approvals))
	for i, a := range in.Approvals {
		a.At = utc(a.At)
		a.Roles = slices.Clone(a.Roles)
		if a.Roles == nil {
			a.Roles = []string{}
		}
		slices.Sort(a.Roles)
		out.Approvals[i] = a
	}
	slices.SortStableFunc(out.Approvals, func(a, b Approval) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Signer, b.Signer), cmp.Compare(a.Digest, b.Digest),
			cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.PolicyDigest, b.PolicyDigest), boolCmp(a.ValidSignature, b.ValidSignature))
	})
	return out
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func cloneMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return maps.Clone(m)
}

func normInputs(in []InputRef) []InputRef {
	out := make([]InputRef, len(in))
	for i, r := range in {
		r.AddedAt = utc(r.AddedAt)
		r.Meta = cloneMap(r.Meta)
		if r.Profile != nil {
			p := *r.Profile
			p.Columns = slices.Clone(p.Columns)
			if p.Columns == nil {
				p.Columns = []Column{}
			}
			r.Profile = &p
		}
		out[i] = r
	}
	slices.SortStableFunc(out, func(a, b InputRef) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Digest, b.Digest))
	})
	return out
}

// CanonicalJSON returns the canonical encoding of the normalized input: compact
// JSON, keys sorted, no HTML escaping. Decision.InputDigest is the BLAKE3 of these
// bytes, and `trove policy input` prints them (indented) for conftest and OPA. Set
// PolicyDigest first: Evaluate fills an empty one with the policy's digest before it
// hashes, so only then do the two agree.
func CanonicalJSON(in Input) ([]byte, error) {
	return canonical(Normalize(in))
}

func canonical(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
