package governance_test

import (
	"fmt"
	"sort"

	"github.com/trove-dev/trove/governance"
)

func ExampleParseTagName() {
	for _, name := range []string{"churn@v1.2.0", "churn#production#7", "churn@v1.2.0!#8", "v1.0"} {
		t, err := governance.ParseTagName(name)
		if err != nil {
			fmt.Println(name, "is not a registry tag")
			continue
		}
		fmt.Println(name, t.Action, t.Version+t.Stage, t.Counter)
	}
	// Output:
	// churn@v1.2.0 register v1.2.0 0
	// churn#production#7 assign production 7
	// churn@v1.2.0!#8 deregister v1.2.0 8
	// v1.0 is not a registry tag
}

func ExampleParseMetrics() {
	m, err := governance.ParseMetrics([]byte(`{"accuracy": 0.91, "eval": {"loss": 0.3, "auc": 0.88}}`))
	if err != nil {
		panic(err)
	}
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Println(k, m[k])
	}
	_, err = governance.ParseMetrics([]byte(`{"loss": NaN}`))
	fmt.Println(err)
	// Output:
	// accuracy 0.91
	// eval.auc 0.88
	// eval.loss 0.3
	// invalid metrics file: line 1: NaN is not a finite number (metrics must be finite)
}

func ExampleParseParams() {
	p, _ := governance.ParseParams([]byte("lr: 1e-3\nlayers: [64, 32]\noptimizer:\n  name: adam\n"))
	var keys []string
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("%s=%s\n", k, p[k])
	}
	// Output:
	// layers.0=64
	// layers.1=32
	// lr=1e-3
	// optimizer.name=adam
}
