package monitor_test

import (
	"fmt"
	"time"

	"github.com/trove-dev/trove/governance/monitor"
	"github.com/trove-dev/trove/governance/policy"
)

// Production accuracy has fallen 0.08 below what the model scored at training
// time, more than the policy allows; the latency was never observed.
func ExampleEvaluate() {
	p, err := policy.Parse("policy.yaml", []byte(`version: 1
monitors:
  - {id: accuracy-drift, type: drift, metric: accuracy, max_drop: 0.05}
  - {id: latency, type: threshold, metric: p95_ms, op: "<=", value: 40}
`))
	if err != nil {
		panic(err)
	}
	obs := &monitor.Observation{
		Trove: monitor.FormatVersion, Model: "churn", Version: "v1.0.0", Stage: "production",
		Window:     monitor.Window{Start: "2026-03-09T00:00:00Z", End: "2026-03-09T09:00:00Z"},
		RecordedAt: "2026-03-09T10:00:00Z", Metrics: map[string]float64{"accuracy": 0.83},
	}
	id, err := obs.ID()
	if err != nil {
		panic(err)
	}
	rep := monitor.Evaluate(p, monitor.Input{
		Subject:     monitor.Subject{Model: "churn", Version: "v1.0.0", Stage: "production", Training: map[string]float64{"accuracy": 0.91}},
		Observation: &monitor.Stored{ID: id, Observation: obs},
		Now:         time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC),
	})
	for _, r := range rep.Results {
		fmt.Printf("%s: %s (%s)\n", r.Monitor, r.Status, r.Observed)
		if r.Reason != "" {
			fmt.Println("  " + r.Reason)
		}
	}
	fmt.Println("retrain recommended:", rep.Retrain)
	// Output:
	// accuracy-drift: breach (accuracy = 0.83, trained 0.91, drop 0.08)
	// latency: no_data (no data)
	//   metric p95_ms was not observed
	// retrain recommended: true
}

// The population stability index of a distribution whose shares moved from
// (50%, 50%) to (25%, 75%).
func ExamplePSI() {
	psi, err := monitor.PSI([]int64{50, 50}, []int64{25, 75})
	fmt.Printf("%.4f %v\n", psi, err)
	// Output: 0.2747 <nil>
}
