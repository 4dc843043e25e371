package governance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// RecordFormat is the version of the registry record trove writes and the
// newest it reads.
const RecordFormat = 1

// Record is the JSON document in the message of every registry tag trove
// creates. doc.go describes it; the format is stable: fields are added, never
// renamed, and readers ignore fields they do not know.
//
// Fields are in JSON key order, so the encoding is canonical.
type Record struct {
	// Action is the tag's action (register, deregister, deprecate, assign).
	Action Action `json:"action"`
	// Artifact is the repository-relative data path of the model's manifest.
	Artifact string `json:"artifact,omitempty"`
	// At is when the action was taken, RFC 3339 in UTC (the tagger date too).
	At string `json:"at"`
	// By is who took it: "Name <email>", from git's user.name and user.email.
	By string `json:"by"`
	// Decision is reserved for the policy decision that allowed a promotion
	// (the governance gate, PromoteOptions.Gate); omitted when there is none.
	Decision json.RawMessage `json:"decision,omitempty"`
	// Digest is the model's content digest (blake3:...) at ManifestCommit.
	Digest string `json:"digest,omitempty"`
	// ManifestCommit is the commit whose manifest describes this version.
	ManifestCommit string `json:"manifest_commit,omitempty"`
	// Message says why, in the words of the person who did it (-m).
	Message string `json:"message,omitempty"`
	// Name is the model's registry name, as in the tag.
	Name string `json:"name"`
	// Stage is the stage assigned or unassigned.
	Stage string `json:"stage,omitempty"`
	// Trove is the record format version, RecordFormat.
	Trove int `json:"trove"`
	// Version is the version registered, deregistered or assigned a stage.
	Version string `json:"version,omitempty"`
}

// ErrNotRecord: a tag message that is not a trove record (GTO's own tags carry a
// free-text message).
var ErrNotRecord = errors.New("not a trove record")

// ErrBadRecord: a tag message that claims to be a trove record but is not a valid
// one; such a tag is ignored, never guessed at.
var ErrBadRecord = errors.New("malformed trove record")

// EncodeRecord returns the record as one line of JSON (keys sorted, no HTML
// escaping) followed by a newline: the whole tag message, which `git tag -n`
// shows in full.
func EncodeRecord(r *Record) ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeRecord reads the record at the start of a tag message. A message that
// does not start with a JSON object holding "trove" is ErrNotRecord; one that
// does (or tries to: broken JSON that mentions "trove") but is not a valid
// record is ErrBadRecord. Text after the object (a
// signature that git appended) is ignored, as are fields this version does not
// know.
func DecodeRecord(msg string) (*Record, error) {
	s := strings.TrimLeft(msg, " \t\r\n")
	if !strings.HasPrefix(s, "{") {
		return nil, ErrNotRecord
	}
	dec := json.NewDecoder(strings.NewReader(s))
	var obj json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		if strings.Contains(s, `"trove"`) {
			// It tries to be a record: do not read it as GTO's free text.
			return nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
		}
		return nil, ErrNotRecord
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(obj, &keys); err != nil {
		return nil, ErrNotRecord
	}
	if _, ok := keys["trove"]; !ok {
		return nil, ErrNotRecord
	}
	var r Record
	if err := json.Unmarshal(obj, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if r.Trove < 1 {
		return nil, fmt.Errorf("%w: format %d", ErrBadRecord, r.Trove)
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// validate checks what every record needs and what its action needs.
func (r *Record) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadRecord, fmt.Sprintf(format, args...))
	}
	if r.Trove < 1 {
		return bad("no format version")
	}
	if r.Name == "" || !tagModelRe().MatchString(r.Name) {
		return bad("name %q", r.Name)
	}
	if r.By == "" {
		return bad("no \"by\"")
	}
	if t, err := time.Parse(time.RFC3339, r.At); err != nil || !strings.HasSuffix(r.At, "Z") || t.IsZero() {
		return bad("at %q: want an RFC 3339 time in UTC", r.At)
	}
	if len(r.Decision) > 0 && !json.Valid(r.Decision) {
		return bad("decision is not JSON")
	}
	switch r.Action {
	case ActionRegister:
		if r.Artifact == "" || r.Digest == "" || r.ManifestCommit == "" {
			return bad("a registration needs artifact, digest and manifest_commit")
		}
		fallthrough
	case ActionDeregister:
		if !semverRe().MatchString(r.Version) {
			return bad("version %q", r.Version)
		}
	case ActionAssign, ActionUnassign:
		if !tagStageRe().MatchString(r.Stage) {
			return bad("stage %q", r.Stage)
		}
		if r.Action == ActionAssign && !semverRe().MatchString(r.Version) {
			return bad("version %q", r.Version)
		}
	case ActionDeprecate:
	default:
		return bad("action %q", r.Action)
	}
	return nil
}

// agrees reports why a record and the name of the tag carrying it disagree, if
// they do: a record copied onto another tag must not be believed.
func (r *Record) agrees(t TagName) error {
	switch {
	case r.Action != t.Action:
		return fmt.Errorf("%w: the record says %s, the tag name %s", ErrBadRecord, r.Action, t.Action)
	case r.Name != t.Name:
		return fmt.Errorf("%w: the record names %q, the tag %q", ErrBadRecord, r.Name, t.Name)
	case (t.Action == ActionRegister || t.Action == ActionDeregister) && r.Version != t.Version:
		return fmt.Errorf("%w: the record says version %s, the tag %s", ErrBadRecord, r.Version, t.Version)
	case (t.Action == ActionAssign || t.Action == ActionUnassign) && r.Stage != t.Stage:
		return fmt.Errorf("%w: the record says stage %s, the tag %s", ErrBadRecord, r.Stage, t.Stage)
	}
	return nil
}
