package export

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/trove-dev/trove/governance/report"
)

// in-toto and SLSA identifiers.
const (
	StatementType  = "https://in-toto.io/Statement/v1"
	ProvenanceType = "https://slsa.dev/provenance/v1"
	// BuildType says how to read the predicate's parameters (see doc.go).
	BuildType = "https://trove.dev/run/v1"
	// BuilderID names what ran the step and recorded it.
	BuilderID = "https://trove.dev/run@v1"
)

// Statement is an in-toto Statement v1 (in-toto/attestation spec/v1/statement.md).
type Statement struct {
	Type          string               `json:"_type"`
	Subject       []ResourceDescriptor `json:"subject"`
	PredicateType string               `json:"predicateType"`
	Predicate     Provenance           `json:"predicate"`
}

// ResourceDescriptor is in-toto's description of an artifact
// (spec/v1/resource_descriptor.md).
type ResourceDescriptor struct {
	Name             string            `json:"name,omitempty"`
	URI              string            `json:"uri,omitempty"`
	Digest           map[string]string `json:"digest,omitempty"`
	Content          []byte            `json:"content,omitempty"` // base64 in JSON
	DownloadLocation string            `json:"downloadLocation,omitempty"`
	MediaType        string            `json:"mediaType,omitempty"`
	Annotations      map[string]any    `json:"annotations,omitempty"`
}

// Provenance is the SLSA Provenance v1 predicate (slsa.dev/provenance/v1).
type Provenance struct {
	BuildDefinition BuildDefinition `json:"buildDefinition"`
	RunDetails      RunDetails      `json:"runDetails"`
}

// BuildDefinition is the provenance's buildDefinition.
type BuildDefinition struct {
	BuildType            string               `json:"buildType"`
	ExternalParameters   map[string]any       `json:"externalParameters"`
	InternalParameters   map[string]any       `json:"internalParameters,omitempty"`
	ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies,omitempty"`
}

// RunDetails is the provenance's runDetails.
type RunDetails struct {
	Builder    Builder              `json:"builder"`
	Metadata   *BuildMetadata       `json:"metadata,omitempty"`
	Byproducts []ResourceDescriptor `json:"byproducts,omitempty"`
}

// Builder identifies what ran the step.
type Builder struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version,omitempty"`
}

// BuildMetadata is when the step ran, as it recorded it.
type BuildMetadata struct {
	InvocationID string `json:"invocationId,omitempty"`
	StartedOn    string `json:"startedOn,omitempty"`
	FinishedOn   string `json:"finishedOn,omitempty"`
}

// InToto returns the in-toto Statement with SLSA provenance for the report's
// subject (see doc.go for what goes where).
func InToto(rep *report.Report) (*Statement, error) {
	s := rep.Subject
	st := &Statement{
		Type: StatementType, PredicateType: ProvenanceType,
		Subject: []ResourceDescriptor{{
			Name: s.Path, Digest: subjectDigests(s),
			Annotations: map[string]any{"name": s.Name, "version": s.Version, "kind": s.Kind, "registry_tag": s.Tag},
		}},
	}
	bd := BuildDefinition{BuildType: BuildType, ExternalParameters: map[string]any{}, ResolvedDependencies: []ResourceDescriptor{}}
	if len(rep.Producer.Command) > 0 {
		bd.ExternalParameters["command"] = rep.Producer.Command
	}
	if len(rep.Parameters) > 0 {
		bd.ExternalParameters["parameters"] = rep.Parameters
	}
	if rep.Producer.Trigger != "" {
		bd.ExternalParameters["trigger"] = rep.Producer.Trigger
	}
	if len(rep.Environment) > 0 {
		bd.InternalParameters = map[string]any{"environment": rep.Environment}
	}
	if c := rep.Code; c != nil {
		dep := ResourceDescriptor{Name: "code", Digest: map[string]string{"gitCommit": c.Commit}, Annotations: map[string]any{"dirty": c.Dirty}}
		if c.Remote != "" {
			dep.URI = gitURI(c.Remote)
		}
		bd.ResolvedDependencies = append(bd.ResolvedDependencies, dep)
	}
	for _, d := range rep.Data {
		digest := map[string]string{"blake3": hexOf(d.Digest)}
		if d.SHA256 != "" {
			digest["sha256"] = hexOf(d.SHA256)
		}
		ann := map[string]any{}
		if d.Role != "" {
			ann["role"] = d.Role
		}
		if d.Kind != "" {
			ann["kind"] = d.Kind
		}
		if d.Name != "" {
			ann["name"] = d.Name
		}
		if d.Version != "" {
			ann["recorded_in_commit"] = d.Version
		}
		if !d.Resolved {
			ann["resolved"] = false
		}
		dep := ResourceDescriptor{Name: d.Path, Digest: digest}
		if len(ann) > 0 {
			dep.Annotations = ann
		}
		bd.ResolvedDependencies = append(bd.ResolvedDependencies, dep)
	}
	if len(bd.ResolvedDependencies) == 0 {
		bd.ResolvedDependencies = nil
	}
	rd := RunDetails{Builder: Builder{ID: BuilderID}}
	if v := strings.TrimPrefix(rep.Generator, "trove "); v != "" {
		rd.Builder.Version = map[string]string{"trove": v}
	}
	if run := subjectRun(rep); run != nil {
		rd.Metadata = &BuildMetadata{InvocationID: runID(rep, run), StartedOn: run.Started, FinishedOn: run.Ended}
	}
	if len(rep.Metrics) > 0 {
		metrics := map[string]float64{}
		for _, m := range rep.Metrics {
			metrics[m.Name] = m.Value
		}
		b, err := json.Marshal(metrics) // keys sorted: one encoding
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		rd.Byproducts = []ResourceDescriptor{{Name: "metrics", MediaType: "application/json", Content: b, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}}
	}
	st.Predicate = Provenance{BuildDefinition: bd, RunDetails: rd}
	return st, nil
}

// gitURI is SLSA's form of a repository: git+ and the URL (scp-like
// addresses become ssh URLs).
func gitURI(remote string) string {
	if strings.Contains(remote, "://") {
		return "git+" + remote
	}
	if at := strings.Index(remote, "@"); at >= 0 {
		if host, path, ok := strings.Cut(remote[at+1:], ":"); ok {
			return "git+ssh://" + remote[:at+1] + host + "/" + strings.TrimPrefix(path, "/")
		}
	}
	return "git+file://" + remote
}
