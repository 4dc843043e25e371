package governance

import (
	"context"

	"github.com/trove-dev/trove/governance/policy"
	tsign "github.com/trove-dev/trove/governance/sign"
	"github.com/trove-dev/trove/manifest"
)

// ApprovalsDir is where approvals are committed, one directory per model version
// and stage: .trove/approvals/NAME/VERSION/STAGE/<time>-<key fingerprint>.json
// holds the canonical JSON record and the file beside it with ".sig" appended
// holds its SSHSIG signature (namespace tsign.Namespace), which
// `ssh-keygen -Y verify -n trove -f .trove/allowed_signers -I PRINCIPAL -s FILE.sig < FILE`
// checks without trove.
const ApprovalsDir = manifest.Dir + "/approvals"

// ApprovalRecord is the signed statement of one approval. Fields are in JSON key
// order, so the encoding is canonical.
type ApprovalRecord struct {
	At           string   `json:"at"`                // RFC 3339 UTC, as asserted by the approver
	Comment      string   `json:"comment,omitempty"` // why
	Digest       string   `json:"digest"`            // the model version's content digest (blake3:...)
	Expires      string   `json:"expires,omitempty"` // RFC 3339 UTC; empty: the policy's max_age decides
	Name         string   `json:"name"`              // registry name
	PolicyDigest string   `json:"policy_digest"`     // digest of .trove/policy.yaml approved against
	Principal    string   `json:"principal"`         // who approves, as in allowed_signers
	Roles        []string `json:"roles,omitempty"`   // roles claimed; only those .trove/roles.yaml grants count
	Stage        string   `json:"stage"`
	Trove        int      `json:"trove"` // record format, 1
	Version      string   `json:"version"`
}

// LoadApprovals reads the approvals committed in the working tree for a model
// version (all stages), verifies each signature against allowed (at the record's
// time) and grants roles from roles, and returns them as the policy input wants
// them. A record with a bad or unknown signature is returned with ValidSignature
// false (the policy then ignores it and says why), never dropped silently.
func LoadApprovals(ctx context.Context, r *manifest.Repo, allowed *tsign.AllowedSigners, roles *tsign.Roles, name, version string) ([]policy.Approval, error) {
	return nil, nil // implemented by the approvals work (trove approve)
}
