// Package report builds the lineage report of a registered model version: the
// document an auditor reads to learn what a model is, who made it from what,
// when (and on whose word), which rules let it into which stage, and what was
// checked while all that was gathered. `trove report` renders it; package
// export turns the same facts into in-toto, OpenLineage and CycloneDX.
//
// # What it reads
//
// Build reads the repository only: the registry tags (the registration record
// names the artifact, digest and manifest commit; each promotion record may
// carry the policy decision that allowed it), the manifests of HEAD's history
// (the model's lineage, and the lineage of everything upstream, through
// governance.BuildUpstream), .trove/policy.yaml (metric thresholds, waivers),
// the approvals (governance.LoadApprovals, checked against
// .trove/allowed_signers and .trove/roles.yaml), the git objects (whether tags
// and commits carry a signature) and the local store (the model's bytes).
//
// # Digests
//
// trove names content by BLAKE3. Standards want SHA-256, so the report
// computes it from the bytes in the local store (SHA256), checking every byte
// against the manifest's BLAKE3 on the way, and caches it in
// .trove/cache/sha256/<blake3 hex>. When the bytes are not local the report
// says so and carries no SHA-256; `trove pull` brings them. For a directory
// both digests are over the sorted listing of per-file digests, as b3sum and
// sha256sum print it (for SHA-256, in-toto's dirHash).
//
// # What is asserted, and by whom
//
// Every time in the history is self-asserted: the step's start and end come
// from the clock of the machine that ran it, a record's "at" from the tagger's,
// a commit date from the committer's. The report lists each with its source
// and marks it so. Names ("by" in a record, a commit's author) are
// self-asserted too; the report says whether the tag or commit that carries
// them is signed ("signed (not verified here)" with the key an SSH signature
// claims, or "unsigned"). Verifying signatures is `trove audit verify`'s work.
//
// # The verification transcript
//
// While building, the report checks that the facts hold together and lists
// each check with its outcome (pass, fail, warn, skip) and detail: the
// registration record agrees with its tag and with the manifest at the
// manifest commit; the recipe or tree is in the local store and its bytes hash
// to the recorded BLAKE3; every input of the upstream lineage resolves to a
// manifest; each step's code commit is in the repository and its inputs were
// committed there with the recorded digests; its times are in order; the
// policy file parses; every promotion record names the registered version and
// its decision allowed it (under the policy as it is now, or another); the
// stage history replays from the tags; approvals load. Then, when
// Options.Audit is set, the checks of the audit chain's verifier
// (governance.VerifyAuditEvidence, as `trove audit verify` runs it), which
// verify the signatures this report only lists. A failed check does not
// stop the report: Report.Failed tells the caller (the CLI exits with 3).
//
// # Formats
//
// WriteJSON writes the Report as JSON, format "trove-report" version 1,
// described by testdata/schemas/trove-report-v1.schema.json (SchemaID).
// WriteMarkdown writes headings and tables, with the lineage as a Mermaid
// flowchart. WriteHTML writes one self-contained page: inline styles with
// print rules, the lineage as an inline SVG laid out here (one column per
// depth, raw data on the left), no script and no request to anywhere.
//
// The model's manifest may carry meta keys intended_use and limitations
// (`trove add --meta intended_use=...`), which the report shows as such.
package report
