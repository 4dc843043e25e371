package export

import (
	"net/url"
	"strings"

	"github.com/trove-dev/trove/governance/report"
)

// OpenLineage schema URLs: the core spec, the standard facets used, and
// trove's own facets (testdata/schemas/openlineage/TroveFacets.json).
const (
	OpenLineageSchema      = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
	olVersionFacet         = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
	olSchemaFacet          = "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
	olJobTypeFacet         = "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
	olSourceCodeFacet      = "https://openlineage.io/spec/facets/1-1-0/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet"
	TroveFacetsSchema      = "https://trove.dev/spec/openlineage/1-0-0/TroveFacets.json"
	troveDatasetFacetURL   = TroveFacetsSchema + "#/$defs/TroveDatasetFacet"
	troveRunFacetURL       = TroveFacetsSchema + "#/$defs/TroveRunFacet"
	openLineageIntegration = "TROVE"
)

// RunEvent is an OpenLineage run event.
type RunEvent struct {
	EventTime string      `json:"eventTime"`
	EventType string      `json:"eventType"`
	Producer  string      `json:"producer"`
	SchemaURL string      `json:"schemaURL"`
	Run       OLRun       `json:"run"`
	Job       OLJob       `json:"job"`
	Inputs    []OLDataset `json:"inputs"`
	Outputs   []OLDataset `json:"outputs"`
}

// OLRun is a run of a job.
type OLRun struct {
	RunID  string         `json:"runId"`
	Facets map[string]any `json:"facets,omitempty"`
}

// OLJob is the job (the step's command) a run runs.
type OLJob struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    map[string]any `json:"facets,omitempty"`
}

// OLDataset is an input or output of a run.
type OLDataset struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    map[string]any `json:"facets,omitempty"`
}

// facet is the base every facet carries.
type facet struct {
	Producer  string `json:"_producer"`
	SchemaURL string `json:"_schemaURL"`
}

type versionFacet struct {
	facet
	DatasetVersion string `json:"datasetVersion"`
}

type schemaField struct {
	Name            string `json:"name"`
	Type            string `json:"type,omitempty"`
	OrdinalPosition int    `json:"ordinal_position"`
}

type schemaFacet struct {
	facet
	Fields []schemaField `json:"fields"`
}

type jobTypeFacet struct {
	facet
	ProcessingType string `json:"processingType"`
	Integration    string `json:"integration"`
	JobType        string `json:"jobType"`
}

type sourceCodeFacet struct {
	facet
	Type    string `json:"type"`
	URL     string `json:"url"`
	RepoURL string `json:"repoUrl"`
	Version string `json:"version"`
}

// troveDatasetFacet is what trove knows of a dataset version.
type troveDatasetFacet struct {
	facet
	Digest string `json:"digest"`
	Kind   string `json:"kind,omitempty"`
	Role   string `json:"role,omitempty"`
	// Commit first recorded this version's manifest.
	Commit string `json:"commit,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Rows   *int64 `json:"rows,omitempty"`
	// License, Classification and Owner come from the manifest's meta.
	License        string `json:"license,omitempty"`
	Classification string `json:"classification,omitempty"`
	Owner          string `json:"owner,omitempty"`
}

// troveRunFacet is what the step recorded.
type troveRunFacet struct {
	facet
	Command    []string           `json:"command"`
	CodeCommit string             `json:"codeCommit,omitempty"`
	Dirty      bool               `json:"dirty"`
	Parameters map[string]string  `json:"parameters"`
	Metrics    map[string]float64 `json:"metrics"`
	Trigger    string             `json:"trigger,omitempty"`
	// TimesRecorded is false when the step recorded no start and end (trove
	// add --input): the event times are then its output's commit time.
	TimesRecorded bool `json:"timesRecorded"`
}

func base(schema string) facet { return facet{Producer: Producer, SchemaURL: schema} }

// OpenLineage returns a START and a COMPLETE event for every recorded step of
// the report's upstream lineage, inputs first (see doc.go).
func OpenLineage(rep *report.Report) ([]RunEvent, error) {
	ns := namespace(rep.Repository)
	var out []RunEvent
	for i := range rep.Lineage.Runs {
		r := &rep.Lineage.Runs[i]
		id := runID(rep, r)
		job := OLJob{Namespace: ns, Name: jobName(r), Facets: map[string]any{
			"jobType": jobTypeFacet{facet: base(olJobTypeFacet), ProcessingType: "BATCH", Integration: openLineageIntegration, JobType: "COMMAND"},
		}}
		rf := troveRunFacet{facet: base(troveRunFacetURL), Command: nonNil(r.Command), Parameters: r.Parameters, Metrics: r.Metrics, Trigger: r.Trigger,
			TimesRecorded: r.Started != "" && r.Ended != ""}
		if c := r.Code; c != nil {
			rf.CodeCommit, rf.Dirty = c.Commit, c.Dirty
			if u := httpRepo(c.Remote); u != "" {
				job.Facets["sourceCodeLocation"] = sourceCodeFacet{facet: base(olSourceCodeFacet), Type: "git", URL: u, RepoURL: c.Remote, Version: c.Commit}
			}
		}
		var ins, outs []OLDataset
		for _, a := range r.Inputs {
			ins = append(ins, dataset(ns, a, nodeOf(rep, a.Node)))
		}
		for _, a := range r.Outputs {
			outs = append(outs, dataset(ns, a, nodeOf(rep, a.Node)))
		}
		if ins == nil {
			ins = []OLDataset{}
		}
		start, end := r.Started, r.Ended
		if start == "" || end == "" {
			start, end = runTime(rep, r), runTime(rep, r)
		}
		run := OLRun{RunID: id, Facets: map[string]any{"trove_run": rf}}
		out = append(out,
			RunEvent{EventTime: start, EventType: "START", Producer: Producer, SchemaURL: OpenLineageSchema, Run: OLRun{RunID: id}, Job: job, Inputs: ins, Outputs: outs},
			RunEvent{EventTime: end, EventType: "COMPLETE", Producer: Producer, SchemaURL: OpenLineageSchema, Run: run, Job: job, Inputs: ins, Outputs: outs},
		)
	}
	if out == nil {
		out = []RunEvent{}
	}
	return out, nil
}

func dataset(ns string, a report.RunArtifact, n report.Node) OLDataset {
	tf := troveDatasetFacet{facet: base(troveDatasetFacetURL), Digest: a.Digest, Kind: a.Kind, Role: a.Role, Commit: n.Commit, Size: a.Size, Rows: a.Rows,
		License: n.Meta["license"], Classification: n.Meta["classification"], Owner: n.Meta["owner"]}
	f := map[string]any{
		"version": versionFacet{facet: base(olVersionFacet), DatasetVersion: a.Digest},
		"trove":   tf,
	}
	if len(a.Schema) > 0 {
		sf := schemaFacet{facet: base(olSchemaFacet)}
		for i, c := range a.Schema {
			sf.Fields = append(sf.Fields, schemaField{Name: c.Name, Type: c.Type, OrdinalPosition: i + 1})
		}
		f["schema"] = sf
	}
	return OLDataset{Namespace: ns, Name: a.Path, Facets: f}
}

func nodeOf(rep *report.Report, id string) report.Node {
	for _, n := range rep.Lineage.Nodes {
		if n.ID == id {
			return n
		}
	}
	return report.Node{}
}

// jobName names a step by its command line, which stays the same when the
// step runs again; a step without one (trove add --input) by what it made.
func jobName(r *report.Run) string {
	if len(r.Command) > 0 {
		return report.CommandLine(r.Command)
	}
	var outs []string
	for _, o := range r.Outputs {
		outs = append(outs, o.Path)
	}
	return "trove add " + strings.Join(outs, " ")
}

// httpRepo returns the remote as an http(s) URL, when it is one (the
// sourceCodeLocation facet wants a URL).
func httpRepo(remote string) string {
	u, err := url.Parse(remote)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return u.String()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
