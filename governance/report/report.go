package report

import "encoding/json"

// Format and FormatVersion name the JSON document; SchemaID is the $id of its
// published JSON schema (testdata/schemas/trove-report-v1.schema.json). Fields
// are added in a new format version, never renamed or given a new meaning.
const (
	Format        = "trove-report"
	FormatVersion = 1
	SchemaID      = "https://trove.dev/schemas/trove-report-v1.schema.json"
)

// Check statuses in the verification transcript.
const (
	CheckPass = "pass" // checked, and true
	CheckFail = "fail" // checked, and false: the report's claims do not hold together
	CheckWarn = "warn" // checked; true, but with a caveat the detail names
	CheckSkip = "skip" // not checked here; the detail says why
)

// SHA-256 sources.
const (
	SHA256Computed    = "computed"    // hashed from the bytes in the local store just now
	SHA256Cache       = "cache"       // from .trove/cache/sha256, hashed from the local bytes earlier
	SHA256Unavailable = "unavailable" // the bytes are not in the local store
)

// Report is the lineage report of one registered model version, for auditors:
// what it is, who made it from what, when (as asserted by whom), which rules
// allowed it to which stage, and what was checked while gathering all that.
// Build assembles it; WriteMarkdown, WriteHTML and WriteJSON render it.
type Report struct {
	Schema        string `json:"$schema"`
	Format        string `json:"format"`
	FormatVersion int    `json:"format_version"`
	// GeneratedAt is when the report was made, by the clock of the machine
	// that made it.
	GeneratedAt string `json:"generated_at"`
	Generator   string `json:"generator"`
	// Query is what was asked for: NAME, NAME@VERSION or NAME@STAGE.
	Query      string     `json:"query"`
	Repository Repository `json:"repository"`
	Subject    Subject    `json:"subject"`
	Producer   Producer   `json:"producer"`
	Authors    []Person   `json:"authors"`
	Times      []Time     `json:"times"`
	// Data are the subject's direct inputs (training, evaluation, ...).
	Data        []Data            `json:"data"`
	Code        *Code             `json:"code"`
	Environment map[string]string `json:"environment"`
	Parameters  map[string]string `json:"parameters"`
	Metrics     []Metric          `json:"metrics"`
	// Comparison is the version the metrics are compared with: the one this
	// version replaced in a stage, else the current holder of the highest
	// stage; nil when there is none.
	Comparison   *Comparison `json:"comparison"`
	IntendedUse  string      `json:"intended_use,omitempty"`
	Limitations  string      `json:"limitations,omitempty"`
	Approvals    Approvals   `json:"approvals"`
	Policy       PolicyInfo  `json:"policy"`
	Decisions    []Decision  `json:"decisions"`
	Waivers      []Waiver    `json:"waivers"`
	StageHistory []StageSpan `json:"stage_history"`
	Lineage      Lineage     `json:"lineage"`
	// Verification lists every check performed while building the report.
	Verification []Check  `json:"verification"`
	Warnings     []string `json:"warnings"`
}

// Repository identifies where the report was made.
type Repository struct {
	Name string `json:"name"` // the working tree's directory name
	// Remote is origin's URL without credentials; "" when there is none.
	Remote string `json:"remote,omitempty"`
}

// Subject is the model version the report is about.
type Subject struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Path    string `json:"path"`
	Kind    string `json:"kind"`
	Type    string `json:"type"` // file or dir
	Size    int64  `json:"size"`
	Files   int64  `json:"files"`
	// Digests: BLAKE3 ("blake3:<hex>", trove's id) always; SHA-256
	// ("sha256:<hex>") when the bytes are in the local store. For a directory
	// both are over the sorted listing of "<file digest>  <path>" lines, as
	// b3sum and sha256sum print it (in-toto's dirHash for SHA-256).
	Digests      Digests `json:"digests"`
	SHA256Source string  `json:"sha256_source"`
	SHA256Note   string  `json:"sha256_note,omitempty"`
	// Object is the recipe (file) or tree (directory) object in the store.
	Object string `json:"object"`
	// ManifestCommit is the commit the registration names; RecordedIn the
	// commit that first recorded this manifest version.
	ManifestCommit string            `json:"manifest_commit"`
	RecordedIn     string            `json:"recorded_in,omitempty"`
	Tag            string            `json:"tag"`
	RegisteredAt   string            `json:"registered_at"`
	RegisteredBy   string            `json:"registered_by"`
	Message        string            `json:"message,omitempty"`
	Deprecated     bool              `json:"deprecated"`
	Stages         []string          `json:"stages"` // the stages it holds now
	Meta           map[string]string `json:"meta"`
}

// Digests of one artifact.
type Digests struct {
	BLAKE3 string `json:"blake3"`
	SHA256 string `json:"sha256,omitempty"`
}

// Producer is how the subject was made.
type Producer struct {
	// Tool: "trove run" (a recorded step), "trove add --input" (lineage given
	// by hand) or "trove add" (no lineage).
	Tool    string   `json:"tool"`
	Command []string `json:"command"`
	Trigger string   `json:"trigger,omitempty"`
}

// Signature statuses of git objects (tags and commits). trove reads whether
// an object carries a signature; checking it is `trove audit verify`'s work.
const (
	SignedNotVerified = "signed (not verified here)"
	Unsigned          = "unsigned"
	NoObject          = "n/a"
)

// Person is someone the history names, in one role.
type Person struct {
	Role     string `json:"role"`
	Identity string `json:"identity"`
	// Source says where the name comes from (a commit's author field, a tag
	// record's "by"); every one of them is self-asserted.
	Source    string `json:"source"`
	At        string `json:"at,omitempty"`
	Signature string `json:"signature"`
	// SignatureType is ssh, pgp or x509 when signed.
	SignatureType string `json:"signature_type,omitempty"`
	// SignatureKey is the key fingerprint an SSH signature claims (not
	// verified).
	SignatureKey string `json:"signature_key,omitempty"`
}

// Time is one moment the history asserts.
type Time struct {
	What   string `json:"what"`
	At     string `json:"at"`
	Source string `json:"source"`
	// SelfAsserted: the clock of whoever wrote it says so; nothing in the
	// repository proves it.
	SelfAsserted bool `json:"self_asserted"`
}

// Data is one input of the subject's step.
type Data struct {
	Role   string `json:"role"`
	Path   string `json:"path"`
	Name   string `json:"name,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Digest string `json:"digest"`
	SHA256 string `json:"sha256,omitempty"`
	// Version is the commit that first recorded this version of the data
	// (data has no semantic version), and Registered the registry versions
	// with its digest, if any.
	Version    string   `json:"version,omitempty"`
	Registered []string `json:"registered,omitempty"`
	// Resolved: the manifest of this digest was found in the history; when
	// false only the digest and path the lineage records are known.
	Resolved       bool              `json:"resolved"`
	Size           int64             `json:"size,omitempty"`
	Rows           *int64            `json:"rows,omitempty"`
	Format         string            `json:"format,omitempty"`
	Schema         []Column          `json:"schema,omitempty"`
	License        string            `json:"license,omitempty"`
	Classification string            `json:"classification,omitempty"`
	Owner          string            `json:"owner,omitempty"`
	Meta           map[string]string `json:"meta,omitempty"`
}

// Column of a tabular dataset's profile.
type Column struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Nulls int64  `json:"nulls"`
}

// Code is the code a step ran from.
type Code struct {
	Commit string `json:"commit"`
	Dirty  bool   `json:"dirty"`
	Remote string `json:"remote,omitempty"`
	// InRepository: the commit object is in this clone.
	InRepository bool `json:"in_repository"`
}

// Metric is one recorded metric with the policy's thresholds and the
// comparison version's value.
type Metric struct {
	Name       string      `json:"name"`
	Value      float64     `json:"value"`
	Thresholds []Threshold `json:"thresholds"`
	Previous   *float64    `json:"previous,omitempty"`
	Delta      *float64    `json:"delta,omitempty"`
}

// Threshold is a metric rule of .trove/policy.yaml (type metric or
// no_regression) that names the metric.
type Threshold struct {
	Rule   string   `json:"rule"`
	Type   string   `json:"type"`
	Op     string   `json:"op,omitempty"`
	Value  *float64 `json:"value,omitempty"`
	Stages []string `json:"stages,omitempty"`
	// Tolerance of a no_regression rule.
	Tolerance *float64 `json:"tolerance,omitempty"`
	// Pass is whether the value meets it: for a metric rule against Value,
	// for no_regression against the comparison version; absent when it
	// cannot be told.
	Pass *bool `json:"pass,omitempty"`
}

// Comparison is the version the metrics are compared with.
type Comparison struct {
	Version string             `json:"version"`
	Stage   string             `json:"stage"`
	Basis   string             `json:"basis"`
	Digest  string             `json:"digest,omitempty"`
	Metrics map[string]float64 `json:"metrics"`
	// SameEvalData: both versions name the same "eval" input digest, the
	// condition under which no_regression compares them.
	SameEvalData bool `json:"same_eval_data"`
}

// Approvals of the subject version, as governance.LoadApprovals returns them.
type Approvals struct {
	// Status: "loaded" (Items lists them), "none" (no approval is recorded)
	// or "error" (Note says why they could not be read).
	Status string     `json:"status"`
	Note   string     `json:"note,omitempty"`
	Items  []Approval `json:"items"`
}

// Approval is one approval record, as governance.LoadApprovalsDetailed reads
// and checks it.
type Approval struct {
	Signer string `json:"signer"`
	// Roles are the roles granted (claimed by the record and given to the
	// signer by .trove/roles.yaml); RolesNotGranted those claimed only.
	Roles           []string `json:"roles"`
	RolesNotGranted []string `json:"roles_not_granted,omitempty"`
	Stage           string   `json:"stage"`
	At              string   `json:"at"`
	Digest          string   `json:"digest"`
	PolicyDigest    string   `json:"policy_digest"`
	Comment         string   `json:"comment,omitempty"`
	// ValidSignature: the signature verifies against .trove/allowed_signers
	// for the signer at the record's time, and the record is sound; Problem
	// says why not.
	ValidSignature bool   `json:"valid_signature"`
	Problem        string `json:"problem,omitempty"`
	Expired        bool   `json:"expired,omitempty"`
	// Key is the signing key's SHA256 fingerprint.
	Key  string `json:"key,omitempty"`
	File string `json:"file"`
}

// PolicyInfo is the policy file as it is now.
type PolicyInfo struct {
	Present bool   `json:"present"`
	Path    string `json:"path"`
	Digest  string `json:"digest,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Decision is the policy decision a promotion tag's record carries.
type Decision struct {
	Tag   string `json:"tag"`
	Stage string `json:"stage"`
	At    string `json:"at"`
	By    string `json:"by"`
	// Recorded: the record has a "decision" (promotions made without a gate
	// have none).
	Recorded     bool     `json:"recorded"`
	Allowed      *bool    `json:"allowed,omitempty"`
	EvaluatedAt  string   `json:"evaluated_at,omitempty"`
	PolicyDigest string   `json:"policy_digest,omitempty"`
	InputDigest  string   `json:"input_digest,omitempty"`
	Results      []Result `json:"results"`
	// Note says what could not be read.
	Note string `json:"note,omitempty"`
	// Raw is the decision as recorded, when it is not a decision this trove
	// reads.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// Result is one rule's outcome in a decision.
type Result struct {
	Rule     string         `json:"rule"`
	Type     string         `json:"type"`
	Status   string         `json:"status"`
	Observed string         `json:"observed"`
	Expected string         `json:"expected"`
	Reason   string         `json:"reason,omitempty"`
	Waiver   *AppliedWaiver `json:"waiver,omitempty"`
}

// AppliedWaiver is the waiver that turned a failing rule into "waived".
type AppliedWaiver struct {
	Approver string `json:"approver"`
	Expires  string `json:"expires"`
	Reason   string `json:"reason"`
}

// Waiver names a rule that may fail for the subject.
type Waiver struct {
	Rule     string `json:"rule"`
	Artifact string `json:"artifact,omitempty"`
	Reason   string `json:"reason"`
	Approver string `json:"approver"`
	Expires  string `json:"expires"`
	// Source: "policy" (.trove/policy.yaml now) or the promotion tag whose
	// decision applied it.
	Source string `json:"source"`
	// Active: not expired at the report's time (policy waivers), or applied
	// (decision waivers).
	Active bool `json:"active"`
}

// StageSpan is one holding of a stage by a version of the model.
type StageSpan struct {
	Stage   string `json:"stage"`
	Version string `json:"version"`
	From    string `json:"from"`
	Until   string `json:"until,omitempty"`
	Tag     string `json:"tag"`
	By      string `json:"by"`
	Message string `json:"message,omitempty"`
	EndedBy string `json:"ended_by,omitempty"`
	// Subject: the span is the subject version's.
	Subject bool `json:"subject"`
}

// Lineage is the upstream graph of the subject: what it was made from, down
// to raw data, and the recorded steps (runs) that made each version.
type Lineage struct {
	Root  string `json:"root"`
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
	// Runs are the recorded steps, inputs before what was made from them.
	Runs []Run `json:"runs"`
}

// Node is one artifact version of the lineage graph.
type Node struct {
	ID         string `json:"id"`
	Path       string `json:"path"`
	Name       string `json:"name,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Digest     string `json:"digest"`
	Commit     string `json:"commit,omitempty"`
	Author     string `json:"author,omitempty"`
	Time       string `json:"time,omitempty"`
	Size       int64  `json:"size,omitempty"`
	Unresolved bool   `json:"unresolved,omitempty"`
	// Meta is the version's manifest metadata (owner, license,
	// classification, ...).
	Meta map[string]string `json:"meta,omitempty"`
	// Depth is the length of the longest path from the node to the root.
	Depth int `json:"depth"`
	// Run is the id of the run that made this version; "" for raw data.
	Run string `json:"run,omitempty"`
}

// Edge: From was an input, in Role, of the step that made To.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Role string `json:"role,omitempty"`
}

// Run is one recorded step: a lineage shared by the outputs it made.
type Run struct {
	ID          string             `json:"id"`
	Command     []string           `json:"command"`
	Started     string             `json:"started,omitempty"`
	Ended       string             `json:"ended,omitempty"`
	Code        *Code              `json:"code"`
	Parameters  map[string]string  `json:"parameters"`
	Environment map[string]string  `json:"environment"`
	Trigger     string             `json:"trigger,omitempty"`
	Inputs      []RunArtifact      `json:"inputs"`
	Outputs     []RunArtifact      `json:"outputs"`
	Metrics     map[string]float64 `json:"metrics"`
}

// RunArtifact is an input or output of a run.
type RunArtifact struct {
	Node   string `json:"node,omitempty"`
	Role   string `json:"role,omitempty"`
	Path   string `json:"path"`
	Name   string `json:"name,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Digest string `json:"digest"`
	// Rows and Schema come from the data's profile, when it has one.
	Rows   *int64   `json:"rows,omitempty"`
	Schema []Column `json:"schema,omitempty"`
	Size   int64    `json:"size,omitempty"`
}

// Check is one step of the verification transcript.
type Check struct {
	ID     string `json:"id"`
	Check  string `json:"check"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Failed reports whether a check of the transcript failed.
func (r *Report) Failed() bool {
	for _, c := range r.Verification {
		if c.Status == CheckFail {
			return true
		}
	}
	return false
}
