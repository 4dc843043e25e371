// Package monitor closes the loop between production and model versions:
// production observations recorded against the exact version that served
// them, monitoring rules judged on them, and the event that asks for a
// retrained model.
//
// # Observations
//
// An Observation is one batch of production metrics (ParseMetrics: a JSON
// object of names to numbers, or the Prometheus text exposition format, read
// with Prometheus's own parser) for a window of time, and optionally input
// feature profiles (ParseFeatures) for data drift. Resolve names the version
// it belongs to: NAME@vX.Y.Z directly, or NAME@STAGE, the version that held
// the stage at the window's end according to the registry's stage history
// (git tags alone). A window that ends after now or starts after it ends is
// ErrWindow; a non-finite number is ErrInvalid.
//
// Its encoding is canonical (SPEC.md): sorted keys, two-space indent, trailing
// newline, one valid encoding, decoded strictly (Decode). Its id is the BLAKE3
// of those bytes.
//
// # Storage
//
// A Store keeps observations and events as immutable files named by their
// ids under .trove/store/monitor (ignored by git, untouched by gc, which only
// deletes packs and indexes), and the remote keeps the same files under
// "monitor/": observations/<model>/<hex>.json and events/<hex>.json. Two
// machines that observe at the same time write different names, so they never
// conflict; Push and Pull copy the names one side lacks and verify every byte
// against its name. The package never imports remote: the CLI adapts a
// remote to Blobs.
//
// # Monitors
//
// Evaluate applies the `monitors:` of .trove/policy.yaml (package policy
// parses them) to the latest observation of a version, or, for a monitor with
// `window: 7d` and/or `observations: N`, to the Aggregate of the observations
// in that window: samples summed, other metrics a sample-weighted mean (plain
// when a count is missing), feature profiles pooled. It is pure. Types:
//
//   - threshold: metric op value, on the production metric;
//   - drift: the production metric against the value recorded at training
//     time (the model manifest's metrics): max_drop (absolute) and/or
//     max_drop_ratio (relative to the training value), higher_is_better;
//   - data_drift: an input feature's profile against the version's reference
//     profile (an observation recorded with --reference): PSI or KS distance
//     (drift.go; pure functions with hand-computed tests);
//   - cel: an expression over metrics, training, model, version and stage.
//
// Every monitor may require min_samples in the metric samples_metric
// (default "samples"). A monitor is pass, breach, no_data (the metric was
// never observed, the training value or the reference is missing, too few
// samples: never counted as a pass), not_applicable (out of scope) or error.
// A report with a breach recommends retraining.
//
// # Events
//
// NewEvent turns a breached report into a CloudEvents 1.0 event (structured
// JSON mode) of type dev.trove.monitor.retrain_recommended, whose id is the
// BLAKE3 of its data: which version, which monitors, which observations.
// Several events are written as a CloudEvents JSON batch (EncodeBatch,
// application/cloudevents-batch+json); DecodeEvents reads one event or a
// batch, SelectEvents keeps those about one model. `trove run --trigger
// EVENTS` records "event:<id>" (several space-separated: Trigger,
// TriggerEvents) in the retrained model's lineage and keeps the events in the
// store, so `trove lineage` shows why the model was retrained and the
// observations that caused it. A step may also name observations as lineage
// inputs (`trove run --input ROLE=blake3:ID`): Store.Find resolves an id or a
// prefix, LineagePath is the path the lineage records
// (governance.ObservationDir).
package monitor
