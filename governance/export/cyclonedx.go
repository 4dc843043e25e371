package export

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/trove-dev/trove/governance/report"
)

// CycloneDX identifiers.
const (
	CycloneDXSchema  = "http://cyclonedx.org/schema/bom-1.6.schema.json"
	CycloneDXVersion = "1.6"
)

// BOM is a CycloneDX 1.6 bill of materials (the subset trove writes).
type BOM struct {
	Schema       string       `json:"$schema"`
	BOMFormat    string       `json:"bomFormat"`
	SpecVersion  string       `json:"specVersion"`
	SerialNumber string       `json:"serialNumber"`
	Version      int          `json:"version"`
	Metadata     BOMMetadata  `json:"metadata"`
	Components   []Component  `json:"components"`
	Dependencies []Dependency `json:"dependencies"`
}

// BOMMetadata says what the BOM is about and what made it.
type BOMMetadata struct {
	Timestamp  string     `json:"timestamp"`
	Tools      BOMTools   `json:"tools"`
	Component  Component  `json:"component"`
	Properties []Property `json:"properties,omitempty"`
}

// BOMTools lists the tools that made the BOM.
type BOMTools struct {
	Components []Component `json:"components"`
}

// Component is a CycloneDX component.
type Component struct {
	Type        string          `json:"type"`
	BOMRef      string          `json:"bom-ref,omitempty"`
	Name        string          `json:"name"`
	Version     string          `json:"version,omitempty"`
	Description string          `json:"description,omitempty"`
	Hashes      []Hash          `json:"hashes,omitempty"`
	Licenses    []LicenseEntry  `json:"licenses,omitempty"`
	ModelCard   *ModelCard      `json:"modelCard,omitempty"`
	Data        []ComponentData `json:"data,omitempty"`
	Properties  []Property      `json:"properties,omitempty"`
}

// Hash is a component hash; CycloneDX 1.6 names SHA-256 and BLAKE3.
type Hash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

// LicenseEntry is one license of a component.
type LicenseEntry struct {
	License License `json:"license"`
}

// License names a license as written in the manifest's meta.license.
type License struct {
	Name string `json:"name"`
}

// Property is a name/value pair; trove's names start with "trove:".
type Property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ModelCard is the CycloneDX model card of the ML model component.
type ModelCard struct {
	ModelParameters      *ModelParameters      `json:"modelParameters,omitempty"`
	QuantitativeAnalysis *QuantitativeAnalysis `json:"quantitativeAnalysis,omitempty"`
	Considerations       *Considerations       `json:"considerations,omitempty"`
}

// ModelParameters: the datasets the model was made from (by reference), and
// what the manifest's meta says of its task and architecture.
type ModelParameters struct {
	Task               string       `json:"task,omitempty"`
	ArchitectureFamily string       `json:"architectureFamily,omitempty"`
	ModelArchitecture  string       `json:"modelArchitecture,omitempty"`
	Datasets           []DatasetRef `json:"datasets,omitempty"`
}

// DatasetRef refers to a data component by its bom-ref.
type DatasetRef struct {
	Ref string `json:"ref"`
}

// QuantitativeAnalysis holds the recorded metrics.
type QuantitativeAnalysis struct {
	PerformanceMetrics []PerformanceMetric `json:"performanceMetrics"`
}

// PerformanceMetric is one metric; CycloneDX writes values as strings.
type PerformanceMetric struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Considerations are the intended use and limitations.
type Considerations struct {
	UseCases             []string `json:"useCases,omitempty"`
	TechnicalLimitations []string `json:"technicalLimitations,omitempty"`
}

// ComponentData describes a dataset component's data.
type ComponentData struct {
	Type           string          `json:"type"`
	Name           string          `json:"name,omitempty"`
	Classification string          `json:"classification,omitempty"`
	Contents       *DataContents   `json:"contents,omitempty"`
	Governance     *DataGovernance `json:"governance,omitempty"`
}

// DataContents carries the profile as properties.
type DataContents struct {
	Properties []Property `json:"properties,omitempty"`
}

// DataGovernance names the data's owner.
type DataGovernance struct {
	Owners []ResponsibleParty `json:"owners,omitempty"`
}

// ResponsibleParty is an owner, as a contact.
type ResponsibleParty struct {
	Contact Contact `json:"contact"`
}

// Contact is a person or team.
type Contact struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// Dependency says which components a component was made from.
type Dependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn,omitempty"`
}

// CycloneDX returns the ML-BOM of the report's subject (see doc.go).
func CycloneDX(rep *report.Report) (*BOM, error) {
	s := rep.Subject
	lin := rep.Lineage
	refs := map[string]string{} // node id -> bom-ref
	for _, n := range lin.Nodes {
		refs[n.ID] = "trove:" + n.Path + "@" + n.Digest
	}
	bom := &BOM{
		Schema: CycloneDXSchema, BOMFormat: "CycloneDX", SpecVersion: CycloneDXVersion, Version: 1,
		SerialNumber: "urn:uuid:" + serialUUID("cyclonedx\x00"+s.Digests.BLAKE3+"\x00"+s.Name+"@"+s.Version),
		Components:   []Component{}, Dependencies: []Dependency{},
	}
	tool := Component{Type: "application", Name: "trove"}
	if v := strings.TrimPrefix(rep.Generator, "trove "); v != "" && v != rep.Generator {
		tool.Version = v
	}
	bom.Metadata = BOMMetadata{
		Timestamp: rep.GeneratedAt, Tools: BOMTools{Components: []Component{tool}},
		Properties: []Property{{Name: "trove:report:query", Value: rep.Query}, {Name: "trove:repository", Value: rep.Repository.Name}},
	}
	if rep.Repository.Remote != "" {
		bom.Metadata.Properties = append(bom.Metadata.Properties, Property{Name: "trove:repository:remote", Value: rep.Repository.Remote})
	}

	// The model.
	model := Component{
		Type: "machine-learning-model", BOMRef: refs[lin.Root], Name: s.Name, Version: s.Version,
		Description: s.Meta["description"], Hashes: hashes(s.Digests.SHA256, s.Digests.BLAKE3), Licenses: licenses(s.Meta["license"]),
	}
	props := []Property{
		{Name: "trove:path", Value: s.Path}, {Name: "trove:kind", Value: s.Kind}, {Name: "trove:type", Value: s.Type},
		{Name: "trove:size", Value: strconv.FormatInt(s.Size, 10)}, {Name: "trove:registry:tag", Value: s.Tag},
		{Name: "trove:manifest_commit", Value: s.ManifestCommit},
	}
	if s.Type == "dir" {
		props = append(props, Property{Name: "trove:digest:method", Value: "directory: the digest of the sorted listing of per-file digests, as b3sum and sha256sum print it (in-toto dirHash)"})
	}
	for _, st := range s.Stages {
		props = append(props, Property{Name: "trove:stage", Value: st})
	}
	for _, k := range slices.Sorted(maps.Keys(rep.Parameters)) {
		props = append(props, Property{Name: "trove:param:" + k, Value: rep.Parameters[k]})
	}
	if c := rep.Code; c != nil {
		props = append(props, Property{Name: "trove:code:commit", Value: c.Commit}, Property{Name: "trove:code:dirty", Value: strconv.FormatBool(c.Dirty)})
	}
	if len(rep.Producer.Command) > 0 {
		props = append(props, Property{Name: "trove:command", Value: report.CommandLine(rep.Producer.Command)})
	}
	model.Properties = props
	mc := &ModelCard{}
	mp := &ModelParameters{Task: s.Meta["task"], ArchitectureFamily: s.Meta["architecture_family"], ModelArchitecture: s.Meta["architecture"]}
	for _, e := range lin.Edges {
		if e.To == lin.Root {
			mp.Datasets = append(mp.Datasets, DatasetRef{Ref: refs[e.From]})
		}
	}
	if mp.Task != "" || mp.ArchitectureFamily != "" || mp.ModelArchitecture != "" || len(mp.Datasets) > 0 {
		mc.ModelParameters = mp
	}
	if len(rep.Metrics) > 0 {
		qa := &QuantitativeAnalysis{}
		for _, m := range rep.Metrics {
			qa.PerformanceMetrics = append(qa.PerformanceMetrics, PerformanceMetric{Type: m.Name, Value: strconv.FormatFloat(m.Value, 'g', -1, 64)})
		}
		mc.QuantitativeAnalysis = qa
	}
	if rep.IntendedUse != "" || rep.Limitations != "" {
		c := &Considerations{}
		if rep.IntendedUse != "" {
			c.UseCases = []string{rep.IntendedUse}
		}
		if rep.Limitations != "" {
			c.TechnicalLimitations = []string{rep.Limitations}
		}
		mc.Considerations = c
	}
	if mc.ModelParameters != nil || mc.QuantitativeAnalysis != nil || mc.Considerations != nil {
		model.ModelCard = mc
	}
	bom.Metadata.Component = model

	// Everything upstream.
	data := map[string]report.Data{}
	for _, d := range rep.Data {
		data[d.Path+"@"+d.Digest] = d
	}
	meta := metaByNode(rep)
	for _, n := range lin.Nodes {
		if n.ID == lin.Root {
			continue
		}
		c := Component{Type: componentType(n.Kind), BOMRef: refs[n.ID], Name: n.Path}
		if n.Name != "" && n.Name != n.Path {
			c.Description = n.Name
		}
		d, direct := data[n.Path+"@"+n.Digest]
		c.Hashes = hashes(d.SHA256, n.Digest)
		m := meta[n.ID]
		c.Licenses = licenses(m["license"])
		p := []Property{{Name: "trove:path", Value: n.Path}, {Name: "trove:digest", Value: n.Digest}}
		if n.Kind != "" {
			p = append(p, Property{Name: "trove:kind", Value: n.Kind})
		}
		if n.Commit != "" {
			p = append(p, Property{Name: "trove:recorded_in_commit", Value: n.Commit})
		}
		if n.Unresolved {
			p = append(p, Property{Name: "trove:resolved", Value: "false"})
		}
		if direct && d.Role != "" {
			p = append(p, Property{Name: "trove:role", Value: d.Role})
		}
		c.Properties = p
		if c.Type == "data" {
			cd := ComponentData{Type: "dataset", Name: n.Path, Classification: m["classification"]}
			if owner := m["owner"]; owner != "" {
				cd.Governance = &DataGovernance{Owners: []ResponsibleParty{{Contact: contact(owner)}}}
			}
			var dp []Property
			if prof := profileOf(rep, n.ID); prof != nil {
				if prof.Rows != nil {
					dp = append(dp, Property{Name: "trove:rows", Value: strconv.FormatInt(*prof.Rows, 10)})
				}
				for i, col := range prof.Schema {
					dp = append(dp, Property{Name: "trove:column:" + strconv.Itoa(i+1), Value: col.Name + " " + col.Type})
				}
			}
			if len(dp) > 0 {
				cd.Contents = &DataContents{Properties: dp}
			}
			c.Data = []ComponentData{cd}
		}
		bom.Components = append(bom.Components, c)
	}
	for _, n := range lin.Nodes {
		dep := Dependency{Ref: refs[n.ID]}
		for _, e := range lin.Edges {
			if e.To == n.ID && !slices.Contains(dep.DependsOn, refs[e.From]) {
				dep.DependsOn = append(dep.DependsOn, refs[e.From])
			}
		}
		bom.Dependencies = append(bom.Dependencies, dep)
	}
	return bom, nil
}

func componentType(kind string) string {
	switch kind {
	case "model":
		return "machine-learning-model"
	case "dataset":
		return "data"
	}
	return "file"
}

func hashes(sha256, blake3 string) []Hash {
	var out []Hash
	if sha256 != "" {
		out = append(out, Hash{Alg: "SHA-256", Content: hexOf(sha256)})
	}
	if blake3 != "" {
		out = append(out, Hash{Alg: "BLAKE3", Content: hexOf(blake3)})
	}
	return out
}

func licenses(l string) []LicenseEntry {
	if l == "" {
		return nil
	}
	return []LicenseEntry{{License: License{Name: l}}}
}

// contact reads "Name <email>", an email, or a name.
func contact(s string) Contact {
	if name, rest, ok := strings.Cut(s, "<"); ok && strings.HasSuffix(rest, ">") {
		return Contact{Name: strings.TrimSpace(name), Email: strings.TrimSuffix(rest, ">")}
	}
	if strings.Contains(s, "@") && !strings.ContainsAny(s, " \t") {
		return Contact{Email: s}
	}
	return Contact{Name: s}
}

// metaByNode returns each node's manifest metadata.
func metaByNode(rep *report.Report) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, n := range rep.Lineage.Nodes {
		out[n.ID] = n.Meta
	}
	return out
}

// profileOf returns what a run recorded of a node's profile.
func profileOf(rep *report.Report, node string) *report.RunArtifact {
	for _, r := range rep.Lineage.Runs {
		for _, as := range [][]report.RunArtifact{r.Outputs, r.Inputs} {
			for i := range as {
				if as[i].Node == node && (as[i].Rows != nil || len(as[i].Schema) > 0) {
					return &as[i]
				}
			}
		}
	}
	return nil
}
