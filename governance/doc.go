// Package governance records and reads where artifacts come from (lineage) and
// which versions of a model are released to which stage (the registry). It
// works on top of package manifest and git, and never on the network: what it
// knows is in the manifests and the tags of the repository, so anyone with a
// clone can check it offline.
//
// # Lineage
//
// A step of a pipeline (`trove run`, see Run) reads tracked inputs and writes
// outputs. Its lineage, written into each output's manifest (manifest.Lineage),
// records the inputs by digest, role and path; the code (HEAD's commit, whether
// the working tree was dirty, origin's URL without credentials); the command
// line; the parameters (ParseParams: a YAML or JSON file flattened to dotted
// keys, values as written); the environment (CaptureEnvironment: OS, arch, CPU,
// Go and Python versions, allow-listed variables, lock file digests); start and
// end times (RFC 3339, UTC, from World.Now); what triggered it; and the
// outputs carry the metrics the step wrote (ParseMetrics: finite numbers,
// nested objects flattened with dots). `trove add --input` records inputs and
// code by hand (BuildLineage).
//
// Nothing is recorded unless the record is true: the inputs must match their
// manifests before the step and still after it (ErrInputChanged), the command
// must succeed (CommandError), every output must exist (ErrNotProduced), and
// the working tree must be clean unless the caller allows it and it is recorded
// as dirty (ErrDirty). The data trove tracks is gitignored and never makes the
// tree dirty; neither do the outputs' own manifests.
//
// The lineage graph (BuildUpstream, BuildDownstream) follows each input's
// digest to the manifest that has it, in the working tree or anywhere in HEAD's
// history (BuildIndex reads each manifest version once), down to raw data; or,
// downstream, from data to what was made of it. Each node carries the commit
// that first recorded it, its author and time. WriteTree, WriteDOT and
// WriteMermaid render it.
//
// # Registry
//
// Model versions and stages are annotated git tags in GTO's format
// (https://dvc.org/doc/gto), so CI that acts on pushed tags and existing GTO
// users work unchanged:
//
//	NAME@vX.Y.Z        register version vX.Y.Z of NAME            trove register
//	NAME#STAGE#N       assign STAGE to the version tagged there   trove promote
//	NAME@vX.Y.Z!#N     deregister (deprecate) the version          trove deprecate NAME@vX.Y.Z
//	NAME@deprecated#N  deprecate the whole model                  trove deprecate NAME
//
// trove also reads what only GTO writes: assignments without #N ("simple"
// notation), NAME#STAGE!#N (unassign) and NAME@created. N is one more than the
// greatest #N among all the tags of NAME, as in GTO. A registration tag points
// to the commit whose manifest it registers, an assignment or deregistration to
// the commit of the version it names. Versions follow semantic versioning with
// GTO's "v" (v1.2.0, v1.2.0-rc.1). NAME is an artifact name (letters, digits,
// '.', '_', '-'); STAGE is lowercase letters, digits and '-', and the stages a
// repository uses are listed, in promotion order, under `stages:` in
// .trove/config (default dev, staging, production).
//
// A tag whose name is in neither format (v1.0, foo@bar, NAME@1.0.0), a
// lightweight tag, and a tag whose record is malformed or contradicts the tag's
// name or target are ignored with a warning, never guessed at.
//
// # The record
//
// The message of every tag trove creates is one line of JSON, keys sorted, so
// that `git tag -n` shows it whole and `git for-each-ref
// --format='%(contents)'` feeds it to jq:
//
//	{"action":"assign","artifact":"models/model.bin","at":"2026-01-02T05:00:00Z",
//	 "by":"Ada Lovelace <ada@example.com>","digest":"blake3:…",
//	 "manifest_commit":"<40 hex>","message":"beats v1.1 on eval","name":"churn",
//	 "stage":"production","trove":1,"version":"v1.2.0"}
//
// (shown on three lines here). The fields:
//
//	trove            record format, 1. Readers ignore fields they do not know;
//	                 fields are added, never renamed or given a new meaning.
//	action           register, deregister, deprecate or assign (as the tag name)
//	name             the model, as in the tag name
//	version          the version registered, deregistered or assigned a stage
//	stage            the stage assigned
//	artifact         repository-relative data path of the model's manifest
//	digest           the model's content digest (blake3:…) at manifest_commit
//	manifest_commit  the commit whose manifest describes the version
//	at               when, RFC 3339 in UTC; the tagger date is the same moment
//	by               who, "Name <email>", from git's user.name and user.email
//	                 (repository, then global config), else GIT_COMMITTER_NAME
//	                 and GIT_COMMITTER_EMAIL
//	message          why (-m), omitted when empty
//	decision         reserved: the policy decision that allowed a promotion,
//	                 attached by a Gate (see below); omitted when empty
//
// A record is recognised by a JSON object with "trove" at the start of the
// message; anything after it (a signature git appended) is ignored. A tag whose
// message is free text is a GTO tag and is read from its name, target and
// tagger alone.
//
// # Stages over time
//
// Model replays a model's tags in time order ("at", then #N) up to any moment:
// a stage is held by one version at a time, the one last assigned to it; a
// version may hold several stages; unassigning empties a stage; deprecating a
// version (or the model) removes it from every stage and from "latest". So
// which version held production at any past time comes from the tags alone.
//
// # Promotion and the policy hook
//
// Promote checks the registry (version registered and not deprecated, stage
// configured, not already held) and then calls PromoteOptions.Gate, the hook
// point where a policy evaluator decides: a denial is ErrDenied and writes
// nothing; an allowance may return a decision document, kept in the record's
// "decision" field. Without a Gate every promotion that passes the registry
// checks is allowed.
//
// # The world
//
// Every function here takes what it needs from outside as a World: the clock,
// the environment, a Runner for processes. The CLI passes the real ones (with
// TROVE_NOW fixing the clock for tests and replays); nothing here reads
// time.Now or os.Getenv.
//
// Tags are local until pushed: `git push origin --tags` (or
// `git push --follow-tags`, which pushes the annotated tags reachable from the
// pushed commits) publishes them, and `git fetch --tags` brings others'.
//
// # The audit chain
//
// Register, Promote, Deprecate and Approve, and a promotion the Gate refuses
// (with its decision document, kept beside the entry as
// NNNNNNNN.decision.json), also append an entry to an
// append-only, hash-chained log in git under AuditRef (refs/trove/audit): one
// commit per entry, whose tree holds every entry so far as
// entries/NNNNNNNN.json (AuditEntry, canonical JSON like an approval record,
// strictly decoded by DecodeAuditEntry) and its SSHSIG signature
// NNNNNNNN.json.sig (namespace "trove"; the tag's signing key for registry
// acts, the approver's key for approvals; absent when the act was unsigned).
// Each entry names the previous entry's BLAKE3 (prev) and the RFC 6962 Merkle
// root of all entries before it (tree_hash, tree_size), the act (kind, name,
// version, stage, digest, manifest commit), what records it (the tag and its
// target, or the approval file) with the BLAKE3 of that record, so the policy
// decision and waivers in a promotion's record are pinned too, and HEAD when it
// was made (commit) with the BLAKE3 of .trove/allowed_signers there.
// Appending takes the repository lock and moves the ref by compare-and-swap.
//
// The chain travels with git when pushed and fetched by name: `git push
// origin refs/trove/audit`, and the fetch refspec
// `refs/trove/audit:refs/trove/audit`, without '+', so that git refuses a
// rewritten chain.
//
// # Two clones appending at once
//
// Two clones that both append fork the chain, and the second push is rejected
// (non-fast-forward). SyncAudit (`trove audit sync`) is the way out. It
// fetches the remote's chain, tags and branches with git into
// refs/trove-sync/REMOTE/fetched/ID/ (never over AuditRef or refs/tags) and, under
// the repository lock, builds the chain to push: the remote's entries, then
// this clone's entries the remote lacks (planAuditSync: the common prefix byte
// for byte, then each local entry not already in the remote's by content),
// re-appended by reappendAudit with a new seq, prev, Merkle root and
// AppendedAt, everything else (kind, subject, RecordDigest, At, Commit)
// unchanged, so the tags and approvals they record verify as before. A signed
// entry is signed again, only by the key that signed it (AuditSyncOptions.
// Signers, else the configured key); any other is a *ForeignSignerError.
// The chain order is checked on AppendedAt when an entry has one.
//
// That chain is verified (VerifyAuditEvidence, with the remote's tags standing
// in for those the clone lacks), plus two head checks that replace the
// positional one: the remote's chain extends the one the previous sync saw
// (AuditRemoteRef), and every entry of AuditVerifiedRef is in the new chain,
// in place or re-appended with its content unchanged (missingByContent). Only
// then does anything move: the old head is kept under AuditBackupPrefix,
// AuditRef moves by compare-and-swap, missing registry tags are created,
// AuditRemoteRef and AuditVerifiedRef move, and the backup is dropped. Moving
// AuditVerifiedRef only when the new chain contains what was verified keeps
// the positional head check of a later `trove audit verify` meaningful: a
// legitimate sync passes it, a force-pushed rewrite (which sync refuses, and
// which a forced fetch brings in without sync) still fails it. AuditExtends
// lets the pre-push hook stop a push that would not fast-forward.
//
// CollectAuditEvidence gathers what verifying needs (AuditEvidence) and
// VerifyAuditEvidence checks it without git, so the same code checks a
// repository and a bundle (WriteAuditBundle, ReadAuditBundle): every entry in
// place and linked; every signature against .trove/allowed_signers as of the
// entry's own commit, never a later one (each change of that file is reported
// as a governance event); every registry tag and committed approval in the
// chain and unchanged; every registration's and promotion's digest the
// manifest's; and, given a KnownHead (the head this clone verified last,
// AuditVerifiedRef, or an earlier bundle's), that the chain still holds it,
// which is how a force-pushed rewrite is caught. VerifyAuditLineage adds the
// lineage check; the CLI adds the checks of the model bytes, locally and on a
// remote. The result is an AuditTranscript, which the report ends with.
package governance
