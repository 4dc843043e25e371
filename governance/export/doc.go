// Package export turns a model version's lineage report (package report) into
// the documents other tools read: an in-toto attestation with SLSA provenance,
// OpenLineage run events and a CycloneDX ML-BOM. Each is a pure function of the
// report: everything is gathered once, by report.Build, so the exports and the
// report an auditor reads never disagree.
//
// # in-toto Statement v1, SLSA Provenance v1
//
// InToto returns an unsigned Statement (https://in-toto.io/Statement/v1) whose
// subject is the model: its path as name, its digests as "sha256" (for a
// directory "dirHash": in-toto's name for the SHA-256 of the sorted sha256sum
// listing) and "blake3" (64 lowercase hex digits, the BLAKE3-256 that trove
// names content by; for a directory the BLAKE3 of the b3sum listing, trove's
// directory digest). The predicate (https://slsa.dev/provenance/v1) describes
// the `trove run` step that made it:
//
//	buildType            https://trove.dev/run/v1
//	externalParameters   {"command": [...], "parameters": {...}, "trigger": "..."}
//	internalParameters   {"environment": {...}}: what trove captured of the machine
//	resolvedDependencies the code ({"gitCommit": ...}, with origin as a git+ URI)
//	                     and each input (digests, and role, kind and recording
//	                     commit as annotations)
//	builder.id           https://trove.dev/run@v1, version {"trove": ...}
//	metadata             invocationId (the run's id, as in the OpenLineage
//	                     export), startedOn and finishedOn as the step recorded
//	                     them (self-asserted)
//	byproducts           the metrics, as JSON content
//
// Signing the statement (a DSSE envelope) is `trove audit`'s work, not this
// package's.
//
// # OpenLineage
//
// OpenLineage returns a START and a COMPLETE RunEvent
// (https://openlineage.io/spec/2-0-2/OpenLineage.json) for every recorded step
// along the model's upstream lineage, inputs first, written one JSON object a
// line. The job and dataset namespace is "trove://" followed by the repository
// (origin's host and path, else "local/" and the directory name); datasets are
// named by their repository path and carry the standard "version" facet
// (datasetVersion is the BLAKE3 digest), "schema" when the data was profiled,
// and a "trove" facet (digest, kind, role, recording commit). Jobs are named by
// their command line and carry "jobType" (BATCH, integration TROVE) and, when
// origin is a URL, "sourceCodeLocation". Runs carry a "trove_run" facet (code
// commit, parameters, metrics). Event times are the step's recorded start and
// end; a run id is a UUIDv7 whose time is the start and whose other bits come
// from the digest of the step's record, so exporting twice gives the same ids.
// The trove facets' schema is testdata/schemas/openlineage/TroveFacets.json.
//
// # CycloneDX 1.6 ML-BOM
//
// CycloneDX returns a BOM (specVersion 1.6) whose metadata.component is the
// model, a machine-learning-model component with SHA-256 and BLAKE3 hashes
// (CycloneDX 1.6 lists BLAKE3 among its hash algorithms), the registry version,
// licenses from meta.license, parameters as properties and a modelCard:
// modelParameters.datasets referring to the data components,
// quantitativeAnalysis.performanceMetrics from the metrics, and
// considerations.useCases / technicalLimitations from meta.intended_use and
// meta.limitations. Every other artifact of the upstream lineage is a
// component ("data" for datasets, with the data's classification, owner and
// profile; "machine-learning-model" for models; "file" otherwise), and
// dependencies mirror the lineage's edges. The serial number is derived from
// the subject's digest and version, so the same version gives the same BOM.
package export
