package policy_test

import (
	"fmt"
	"time"

	"github.com/trove-dev/trove/governance/policy"
)

func ExampleEvaluate() {
	p, err := policy.Parse(".trove/policy.yaml", []byte(`version: 1
stages: [dev, staging, production]
rules:
  - {id: accuracy-floor, type: metric, stages: [production], metric: accuracy, op: ">=", value: 0.9}
  - {id: latency, type: cel, expr: "metrics.p95_latency_ms <= 40.0"}
  - {id: order, type: stage_order}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	present := true
	d := policy.Evaluate(p, policy.Input{
		Subject: policy.Subject{Name: "churn", Kind: "model", Digest: "blake3:" + fmt.Sprintf("%064x", 1),
			Metrics: map[string]float64{"accuracy": 0.87, "p95_latency_ms": 31}},
		TargetStage:   "production",
		CurrentStage:  "staging",
		RemotePresent: &present,
		Now:           time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	})
	fmt.Println("allowed:", d.Allowed)
	for _, r := range d.Results {
		fmt.Printf("%-15s %-5s observed %s, expected %s\n", r.Rule, r.Status, r.Observed, r.Expected)
	}
	// Output:
	// allowed: false
	// accuracy-floor  fail  observed 0.87, expected accuracy >= 0.9
	// latency         pass  observed true, expected metrics.p95_latency_ms <= 40.0 is true
	// order           pass  observed staging -> production, expected from staging: production or an earlier stage
}

func ExampleParse() {
	_, err := policy.Parse(".trove/policy.yaml", []byte(`version: 1
rules:
  - id: fresh
    type: freshness
    role: train
    max_age: 1 month
`))
	fmt.Println(err)
	// Output:
	// .trove/policy.yaml:6:14: rule "fresh": max_age: bad duration "1 month"; want a whole number and a unit m, h, d or w, like 30d, 14d or 24h
}
