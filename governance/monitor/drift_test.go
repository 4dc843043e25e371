package monitor

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// The expected values are computed by hand from the definitions in drift.go.
func TestPSI(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ref, cur []int64
		want     float64
	}{
		{"same", []int64{10, 20, 30}, []int64{1, 2, 3}, 0},
		// shares (.5, .5) -> (.25, .75): .25 ln 2 + .25 ln 1.5 = .25 ln 3
		{"shift", []int64{50, 50}, []int64{25, 75}, 0.25 * math.Log(3)},
		// an empty reference bucket counts as PSIFloor:
		// (.9 - 1) ln .9 + (.1 - .0001) ln(.1 / .0001)
		{"empty bucket", []int64{100, 0}, []int64{90, 10}, -0.1*math.Log(0.9) + 0.0999*math.Log(1000)},
	} {
		got, err := PSI(tc.ref, tc.cur)
		if err != nil || !near(got, tc.want) {
			t.Errorf("%s: PSI = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range [][2][]int64{{{1, 2}, {1}}, {{}, {}}, {{0, 0}, {1, 1}}} {
		if _, err := PSI(bad[0], bad[1]); !errors.Is(err, ErrIncomparable) {
			t.Errorf("PSI(%v, %v): %v, want ErrIncomparable", bad[0], bad[1], err)
		}
	}
}

func TestKS(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ref, cur []float64
		want     float64
	}{
		{"same", []float64{3, 1, 2}, []float64{1, 2, 3}, 0},
		{"disjoint", []float64{1, 2}, []float64{3, 4}, 1},
		// ECDFs: at 2, .5 vs 0; at 3 (a tie), .75 vs .25; at 4, 1 vs .5.
		{"overlap", []float64{1, 2, 3, 4}, []float64{3, 4, 5, 6}, 0.5},
		// sizes differ: at 1, 1/2 vs 1/4.
		{"sizes", []float64{1, 2}, []float64{1, 2, 2, 2}, 0.25},
	} {
		got, err := KS(tc.ref, tc.cur)
		if err != nil || !near(got, tc.want) {
			t.Errorf("%s: KS = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := KS(nil, []float64{1}); !errors.Is(err, ErrIncomparable) {
		t.Errorf("KS of an empty sample: %v", err)
	}
	// cumulative shares (.5, 1) vs (.25, 1)
	if got, err := KSHistogram([]int64{50, 50}, []int64{25, 75}); err != nil || !near(got, 0.25) {
		t.Errorf("KSHistogram = %v, %v; want 0.25", got, err)
	}
}

func TestBucketAndEdges(t *testing.T) {
	// Buckets are (-inf, 1], (1, 2], (2, +inf).
	if got := Bucket([]float64{0.5, 1, 1.5, 2, 3}, []float64{1, 2}); !slices.Equal(got, []int64{2, 2, 1}) {
		t.Errorf("Bucket = %v", got)
	}
	vals := []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	if got := QuantileEdges(vals, 10); !slices.Equal(got, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("QuantileEdges = %v", got)
	}
	// Repeated values give fewer, distinct edges.
	if got := QuantileEdges([]float64{1, 1, 1, 1, 2}, 4); !slices.Equal(got, []float64{1}) {
		t.Errorf("QuantileEdges of ties = %v", got)
	}
}

func TestDrift(t *testing.T) {
	ref := Feature{Edges: []float64{0}, Counts: []int64{50, 50}}
	cur := Feature{Values: []float64{-1, 1, 2, 3}} // 1 below 0, 3 above
	got, err := Drift("psi", ref, cur)
	if err != nil || !near(got, 0.25*math.Log(3)) {
		t.Errorf("psi histogram vs sample = %v, %v", got, err)
	}
	got, err = Drift("ks", Feature{Values: []float64{1, 2}}, Feature{Values: []float64{3, 4}})
	if err != nil || got != 1 {
		t.Errorf("ks samples = %v, %v", got, err)
	}
	if _, err := Drift("psi", ref, Feature{Edges: []float64{1}, Counts: []int64{1, 1}}); !errors.Is(err, ErrIncomparable) {
		t.Errorf("different edges: %v", err)
	}
	// A sample against itself does not drift.
	s := Feature{Values: []float64{5, 1, 4, 2, 3, 3, 9, 7, 8, 6, 2}}
	if got, err := Drift("psi", s, s); err != nil || got != 0 {
		t.Errorf("psi of a sample with itself = %v, %v", got, err)
	}
}
