package monitor

import (
	"errors"
	"math"
	"slices"
	"sort"
)

// Data drift measures. Both are pure functions of two profiles of the same
// column: the reference (training data, or a baseline the producer sent) and
// the current one (production inputs in the observation's window).

// PSIFloor replaces an empty bucket's share in PSI, which would otherwise be
// log(0): 0.0001, the value most PSI write-ups use.
const PSIFloor = 1e-4

// PSIBuckets is the number of buckets PSI uses when both profiles are samples:
// deciles of the reference.
const PSIBuckets = 10

// ErrIncomparable: two profiles that cannot be compared (histograms with
// different edges, or an empty profile).
var ErrIncomparable = errors.New("profiles cannot be compared")

// PSI is the population stability index of two bucket distributions given as
// counts over the same buckets:
//
//	PSI = sum over buckets i of (c_i - r_i) * ln(c_i / r_i)
//
// with r_i and c_i the shares of the reference and current counts in bucket i,
// a zero share replaced by PSIFloor. Common reading: below 0.1 no change, 0.1
// to 0.25 a moderate shift, above 0.25 a significant one.
func PSI(ref, cur []int64) (float64, error) {
	if len(ref) != len(cur) || len(ref) == 0 {
		return 0, ErrIncomparable
	}
	var rt, ct float64
	for i := range ref {
		rt += float64(ref[i])
		ct += float64(cur[i])
	}
	if rt == 0 || ct == 0 {
		return 0, ErrIncomparable
	}
	var psi float64
	for i := range ref {
		r := max(float64(ref[i])/rt, PSIFloor)
		c := max(float64(cur[i])/ct, PSIFloor)
		psi += (c - r) * math.Log(c/r)
	}
	return psi, nil
}

// KSHistogram is the Kolmogorov–Smirnov distance of two distributions given as
// counts over the same buckets: the largest difference of their cumulative
// shares at a bucket edge. It is the exact KS statistic of the data only at
// the edges, so a lower bound of it.
func KSHistogram(ref, cur []int64) (float64, error) {
	if len(ref) != len(cur) || len(ref) == 0 {
		return 0, ErrIncomparable
	}
	var rt, ct float64
	for i := range ref {
		rt += float64(ref[i])
		ct += float64(cur[i])
	}
	if rt == 0 || ct == 0 {
		return 0, ErrIncomparable
	}
	var rc, cc, d float64
	for i := range ref {
		rc += float64(ref[i])
		cc += float64(cur[i])
		d = max(d, math.Abs(rc/rt-cc/ct))
	}
	return d, nil
}

// KS is the two-sample Kolmogorov–Smirnov statistic of two samples: the
// largest distance between their empirical distribution functions, in [0, 1].
func KS(ref, cur []float64) (float64, error) {
	if len(ref) == 0 || len(cur) == 0 {
		return 0, ErrIncomparable
	}
	a, b := slices.Clone(ref), slices.Clone(cur)
	sort.Float64s(a)
	sort.Float64s(b)
	na, nb := float64(len(a)), float64(len(b))
	var i, j int
	var d float64
	for i < len(a) && j < len(b) {
		// Step past every value equal to the smaller of the two heads, in both
		// samples, before comparing: ties move both functions at once.
		x := min(a[i], b[j])
		for i < len(a) && a[i] == x {
			i++
		}
		for j < len(b) && b[j] == x {
			j++
		}
		d = max(d, math.Abs(float64(i)/na-float64(j)/nb))
	}
	return d, nil
}

// Bucket counts values into the buckets of edges (see Feature).
func Bucket(values, edges []float64) []int64 {
	counts := make([]int64, len(edges)+1)
	for _, v := range values {
		// The first edge >= v is v's bucket; none: the last bucket.
		i := sort.SearchFloat64s(edges, v)
		counts[i]++
	}
	return counts
}

// QuantileEdges returns the distinct inner cut points that split a sample into
// n buckets of about equal size (deciles for n = 10), for PSI on samples.
func QuantileEdges(values []float64, n int) []float64 {
	if len(values) == 0 || n < 2 {
		return nil
	}
	s := slices.Clone(values)
	sort.Float64s(s)
	var edges []float64
	for k := 1; k < n; k++ {
		// The k/n quantile, nearest rank.
		idx := int(math.Ceil(float64(k)*float64(len(s))/float64(n))) - 1
		idx = min(max(idx, 0), len(s)-1)
		e := s[idx]
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	return edges
}

// Drift computes method ("psi" or "ks") between a reference and a current
// profile of one column. Samples are compared directly (KS exactly; PSI over
// the reference's deciles); a histogram is compared with a histogram of the
// same edges, or with a sample bucketed by those edges.
func Drift(method string, ref, cur Feature) (float64, error) {
	switch {
	case len(ref.Values) > 0 && len(cur.Values) > 0:
		if method == "ks" {
			return KS(ref.Values, cur.Values)
		}
		edges := QuantileEdges(ref.Values, PSIBuckets)
		return PSI(Bucket(ref.Values, edges), Bucket(cur.Values, edges))
	case len(ref.Edges) > 0 && len(cur.Edges) > 0:
		if !slices.Equal(ref.Edges, cur.Edges) {
			return 0, ErrIncomparable
		}
		return histDrift(method, ref.Counts, cur.Counts)
	case len(ref.Edges) > 0:
		return histDrift(method, ref.Counts, Bucket(cur.Values, ref.Edges))
	case len(cur.Edges) > 0:
		return histDrift(method, Bucket(ref.Values, cur.Edges), cur.Counts)
	}
	return 0, ErrIncomparable
}

func histDrift(method string, ref, cur []int64) (float64, error) {
	if method == "ks" {
		return KSHistogram(ref, cur)
	}
	return PSI(ref, cur)
}
