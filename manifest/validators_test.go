package manifest

// The hand-written validators accept exactly what the patterns in SPEC.md accept.
import (
	"math/rand"
	"regexp"
	"testing"
)

func TestValidatorsMatchRegexps(t *testing.T) {
	nr := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	mr := regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
	cr := regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
	alpha := "aZ09._-/ fA\xff\n"
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 200000; i++ {
		n := r.Intn(140)
		b := make([]byte, n)
		for j := range b {
			b[j] = alpha[r.Intn(len(alpha))]
		}
		s := string(b)
		if ValidName(s) != nr.MatchString(s) || ValidMetaKey(s) != mr.MatchString(s) || validCommit(s) != cr.MatchString(s) {
			t.Fatalf("%q", s)
		}
	}
	for _, s := range []string{"a", "ab", "A", "0", "a.b-c_d", "a" + string(make([]byte, 0))} {
		if ValidName(s) != nr.MatchString(s) || ValidMetaKey(s) != mr.MatchString(s) {
			t.Fatal(s)
		}
	}
}
