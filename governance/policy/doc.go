// Package policy reads .trove/policy.yaml and evaluates it against an input document.
//
// A policy says what must be true before an artifact version reaches a stage:
// lineage complete, metadata present, metric floors, no regression against the
// version that holds the stage now, fresh data, signed approvals, blobs on the
// remote, stages in order, and custom CEL conditions. `trove check`, `trove promote`
// and `trove monitor` read it.
//
// Evaluation is pure. The caller gathers every fact a decision depends on into one
// Input, including the time, and Evaluate returns a Decision: the same policy and
// the same input always give the same decision, byte for byte, so a decision can be
// replayed and audited offline. Nothing here reads files, the clock or the network.
//
// # The policy file
//
//	version: 1
//	stages: [dev, staging, production]     # promotion order
//	rules:
//	  - id: lineage                        # every rule: id, type, optional scope
//	    type: lineage
//	    stages: [staging, production]      # scope: target stages
//	    kinds: [model]                     # scope: dataset, model, artifact
//	    artifacts: ["churn*"]              # scope: globs on the name or path
//	    require: {inputs: true, code_commit: true, clean_tree: true, roles: [train, eval]}
//	  - {id: metadata, type: metadata, require: [owner, license], allowed_licenses: [internal]}
//	  - {id: accuracy-floor, type: metric, metric: accuracy, op: ">=", value: 0.9}
//	  - {id: no-regression, type: no_regression, metric: accuracy, tolerance: 0.005}
//	  - {id: fresh-data, type: freshness, role: train, max_age: 30d}
//	  - {id: rows, type: data_quality, role: train, max_row_drop: 0.1, schema_change: deny}
//	  - {id: sign-off, type: approvals, min: 1, roles: [model-risk], max_age: 14d}
//	  - {id: on-remote, type: remote_present}
//	  - {id: order, type: stage_order}
//	  - {id: latency, type: cel, expr: "metrics.p95_latency_ms <= 40.0"}
//	monitors:                              # read by `trove monitor` (governance/monitor)
//	  - {id: accuracy-drift, metric: accuracy, max_drop: 0.05}
//	  - {id: errors, type: threshold, metric: error_rate, op: "<=", value: 0.02, min_samples: 1000}
//	  - {id: age-psi, type: data_drift, feature: age, method: psi, max: 0.2}
//	  - {id: custom, type: cel, expr: "metrics.p95_latency_ms < 1.2 * training.p95_latency_ms"}
//	  - {id: weekly, metric: accuracy, max_drop: 0.03, window: 7d, min_samples: 10000}
//	waivers:
//	  - {rule: fresh-data, artifact: "blake3:...", reason: vendor delay,
//	     approver: alice@example.com, expires: 2027-01-15}
//
// Parse is strict: unknown keys, unknown rule types, missing or duplicate ids, bad
// operators, durations ("30d", "14d", "24h", "90m", "2w"; no months), stages that
// are not in the stages list and CEL compile errors are all reported, each with its
// line and column, and with the position inside a CEL expression. Hostile files are
// refused before they are decoded: over 1 MiB (MaxFileSize), more than 100,000 YAML
// nodes once aliases are expanded (MaxNodes: the "billion laughs"), or nested more
// than 64 deep (MaxDepth).
//
// # Rules
//
//   - lineage: require {inputs, code_commit, clean_tree, protected_branches: bool;
//     roles: [input roles that must be present]}.
//   - metadata: require [meta keys, non-empty]; allowed_licenses [values of
//     meta.license]; pii_allowed_models [globs]: a model trained on an input whose
//     meta.classification is "pii" must match one.
//   - metric: metric, op (>=, >, <=, <, ==), value. A metric not recorded fails.
//   - no_regression: metric, tolerance (default 0), higher_is_better (default true).
//     Compares with the current holder of the target stage, only when the subject's
//     single input with role "eval" has the digest the holder was evaluated on;
//     otherwise not_applicable, with the reason.
//   - freshness: role, max_age. Every input with the role must have been added
//     within max_age of now. No such input: not_applicable.
//   - data_quality: role, max_row_drop (fraction, 0.1 = 10%), schema_change (deny or
//     allow). Compares the profile of the subject's input with the role against the
//     stage holder's input with the same role.
//   - approvals: min (default 1), roles, max_age, distinct_from_author (default
//     true). Counts distinct signers whose approval has a valid signature, names the
//     subject's digest, the target stage and this policy's digest, is not older than
//     max_age nor dated after now, and whose signer holds one of the roles.
//   - remote_present: the subject's blobs are on the remote (remote_present null is
//     an error: the fact was not gathered).
//   - stage_order: the target stage is at most one past the current stage (no
//     stage: the first). Skipping needs a waiver.
//   - cel: expr, a CEL expression over the input document that must be true. The
//     variables are the document's top-level keys, plus metrics and meta for
//     subject.metrics and subject.meta. Evaluation is bounded by CELCostLimit.
//
// # Monitors
//
// Monitors judge a model version in production on its latest observation
// (`trove observe`), not a promotion. Every monitor has an id, a type (default
// drift), optional scope (stages: the stage the version is observed in;
// artifacts: globs on the model name or path), and optionally min_samples with
// samples_metric (default "samples"): an observation with fewer samples, or
// without that metric, gives no_data instead of a verdict.
//
// window (a duration, 7d) and/or observations (a count, 1 to 10,000) make a
// monitor judge the aggregate of several observations of the version instead
// of the latest alone: those whose window ended within window before the
// evaluation time, the last observations of them. The samples metric is
// summed (min_samples then applies to the total); every other metric is the
// mean over the observations that have it, weighted by their samples when
// each has a positive count (for a rate, the rate over all the samples) and
// unweighted otherwise; feature profiles are pooled (histograms with the same
// edges summed, samples concatenated). No observation in the window is
// no_data (governance/monitor.Aggregate).
//
//   - threshold: metric, op (>=, >, <=, <, ==), value, on the production metric.
//   - drift: metric; max_drop (absolute) and/or max_drop_ratio (a fraction of
//     the training value, 0.1 = 10%); higher_is_better (default true). Compares
//     the production metric with the one recorded in the model's manifest at
//     training time (`trove run --metrics`).
//   - data_drift: feature, method (psi, the default, or ks), max: the distance
//     between the feature's profile in the observation and in the version's
//     reference profile (`trove observe --reference --features`).
//   - cel: expr over metrics (production), training (the manifest's metrics),
//     model, version and stage; reading a metric that was not observed gives
//     no_data.
//
// A monitor whose metric, feature, training value or reference is missing is
// no_data, never pass. Limits within 1e-9 absorb floating-point noise.
//
// A rule is not_applicable when the target stage, the subject's kind or its name
// and path fall outside its scope; a rule scoped to stages never applies outside a
// promotion. A failing rule becomes waived when a waiver names it and the subject's
// digest and now is before the waiver's expiry (a date means the start of that day,
// UTC). A decision is allowed when no result is fail or error.
//
// # The input document
//
// Input, encoded by CanonicalJSON (sorted keys, compact; `trove policy input` prints
// it for conftest and OPA users). Times are RFC 3339 in UTC; digests are
// "blake3:<64 hex>"; maps and lists are never null, except where noted:
//
//	{
//	  "subject": {                       // the artifact version checked or promoted
//	    "name": string, "version": string, "path": string,
//	    "kind": "dataset" | "model" | "artifact",
//	    "digest": string, "size": integer,
//	    "meta": {string: string},         // owner, license, classification, ...
//	    "metrics": {string: number},
//	    "lineage": {
//	      "inputs": [{
//	        "role": string,               // train, eval, ...
//	        "path": string, "digest": string, "kind": string,
//	        "meta": {string: string},
//	        "profile": {"rows": integer,
//	                    "columns": [{"name": string, "type": string, "nulls": integer}]} | null,
//	        "added_at": time              // absent when unknown
//	      }],
//	      "code": {"commit": string, "dirty": bool, "on_protected_branch": bool} | null,
//	      "started": time, "ended": time  // absent when unknown
//	    }
//	  },
//	  "target_stage": string,             // "" when not a promotion
//	  "current_stage": string,            // the subject's stage now; "" for none
//	  "stage_holder": {                   // who holds target_stage now, or null
//	    "version": string, "digest": string,
//	    "metrics": {string: number},
//	    "eval_digest": string,            // its input with role eval; "" if none
//	    "inputs": [input, as above]
//	  } | null,
//	  "approvals": [{
//	    "signer": string,                 // the principal the signature was checked for
//	    "roles": [string],                // from .trove/roles.yaml
//	    "digest": string,                 // the artifact approved
//	    "policy_digest": string,          // the policy it was approved under
//	    "stage": string,
//	    "at": time,
//	    "valid_signature": bool           // checked against .trove/allowed_signers
//	  }],
//	  "remote_present": bool | null,      // null: not checked
//	  "now": time,                        // the evaluation time; required
//	  "policy_digest": string,            // BLAKE3 of the policy file's bytes
//	  "author": string                    // who asks for the promotion
//	}
//
// Lists whose order means nothing (approvals, inputs, roles) are sorted by
// Normalize, so the same facts give the same document whatever order they were
// gathered in. Decision.InputDigest is the BLAKE3 of that document.
package policy
