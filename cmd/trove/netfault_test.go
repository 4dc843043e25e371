package main

// Network faults between trove and a real S3 server: an HTTP proxy on loopback in
// front of versitygw answers some requests with 500/503, resets some connections,
// cuts some response bodies short and stalls others, on a fixed seed. Push and
// pull must either complete, byte-identical, or fail cleanly; a truncated body
// must never be accepted.

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trove-dev/trove/governance/monitor"
)

type faultStats struct {
	mu                               sync.Mutex
	requests, errors, resets, truncs int
	stalls                           int
}

func faultProxy(t *testing.T, target string, seed int64, rate float64, budget int) (*httptest.Server, *faultStats) {
	u, _ := url.Parse("http://" + target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rng := rand.New(rand.NewSource(seed))
	st := &faultStats{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st.mu.Lock()
		st.requests++
		fault := ""
		if budget > 0 && rng.Float64() < rate {
			budget--
			fault = []string{"503", "500", "reset", "truncate", "stall"}[rng.Intn(5)]
		}
		if fault == "truncate" && r.Method != http.MethodGet {
			fault = "503"
		}
		switch fault {
		case "503", "500":
			st.errors++
		case "reset":
			st.resets++
		case "truncate":
			st.truncs++
		case "stall":
			st.stalls++
		}
		st.mu.Unlock()
		switch fault {
		case "503":
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
			return
		case "500":
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>`)
			return
		case "reset":
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					if tc, ok := c.(*net.TCPConn); ok {
						tc.SetLinger(0)
					}
					c.Close()
					return
				}
			}
		case "stall":
			time.Sleep(300 * time.Millisecond)
		case "truncate":
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(rec.Code)
			w.Write(body[:len(body)/2])
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
				}
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, st
}

func TestTransfersSurviveNetworkFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("talks to the S3 server")
	}
	endpoint := os.Getenv("TROVE_TEST_S3_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TROVE_TEST_S3_ENDPOINT is not set: run the tests with `make test`")
		}
		t.Skip("no S3 server: run `make test`, which starts versitygw")
	}
	px, stats := faultProxy(t, endpoint, 7, 0.3, 40)
	home := t.TempDir()
	env := append(gitEnv(home), "AWS_ACCESS_KEY_ID="+os.Getenv("TROVE_TEST_S3_ACCESS_KEY"), "AWS_SECRET_ACCESS_KEY="+os.Getenv("TROVE_TEST_S3_SECRET_KEY"))
	tr := runner{t: t, bin: troveBin(t), env: env}
	git := runner{t: t, bin: "git", env: env}

	repo := filepath.Join(t.TempDir(), "repo")
	os.MkdirAll(filepath.Join(repo, "data", "many"), 0o755)
	git.must(repo, "init", "-q")
	tr.must(repo, "init")
	rng := rand.New(rand.NewSource(1))
	big := make([]byte, 24<<20)
	rng.Read(big)
	os.WriteFile(filepath.Join(repo, "data", "big.bin"), big, 0o644)
	for i := 0; i < 40; i++ {
		b := make([]byte, 300<<10)
		rng.Read(b)
		os.WriteFile(filepath.Join(repo, "data", "many", fmt.Sprintf("f%02d.bin", i)), b, 0o644)
	}
	tr.must(repo, "add", "data/big.bin", "data/many")
	// Production observations travel with the data: push sends them and pull
	// brings them down, one small request each, through the same faults.
	nObs := addObservations(t, repo, 30)
	bucket := fmt.Sprintf("faults%d", time.Now().UnixNano()%1e9)
	// The bucket is made straight on the server, not through the faults.
	tr.must(repo, "remote", "add", "direct", "s3://"+bucket, "--endpoint", "http://"+endpoint, "--path-style", "--create-bucket")
	tr.must(repo, "remote", "add", "origin", "s3://"+bucket, "--endpoint", px.URL, "--path-style", "--default")
	git.must(repo, "add", "-A")
	git.must(repo, "commit", "-qm", "v1")

	// Push through the faults; a run that gives up must leave things resumable.
	pushed := false
	for attempt := 0; attempt < 3 && !pushed; attempt++ {
		_, errs, err := tr.run(repo, "push", "--jobs", "4")
		if err == nil {
			pushed = true
		} else if !strings.Contains(errs, "trove: error:") {
			t.Fatalf("push failed without a clean error:\n%s", errs)
		}
	}
	if !pushed {
		t.Fatal("push did not complete in 3 runs through the faults")
	}
	// What the server holds is intact (checked directly, past the proxy).
	tr.must(repo, "verify", "--remote", "direct", "--deep")

	// Pull file by file into a fresh clone, through the faults: many ranged reads.
	clone := filepath.Join(t.TempDir(), "clone")
	git.must(filepath.Dir(clone), "clone", "-q", repo, clone)
	for i := 0; i < 40; i += 3 {
		f := fmt.Sprintf("data/many/f%02d.bin", i)
		ok := false
		for attempt := 0; attempt < 3 && !ok; attempt++ {
			_, errs, err := tr.run(clone, "pull", f)
			ok = err == nil
			if err != nil && code(err) == 3 {
				t.Fatalf("pull of %s reported corruption, which the server does not have:\n%s", f, errs)
			}
		}
		if !ok {
			t.Fatalf("pull of %s did not complete in 3 runs", f)
		}
	}
	for attempt := 0; attempt < 3; attempt++ {
		if _, _, err := tr.run(clone, "pull"); err == nil {
			break
		}
	}
	if got := countObservations(t, clone); got != nObs {
		t.Fatalf("the clone has %d observations after pulls through faults, want %d", got, nObs)
	}
	out := tr.must(clone, "verify", "--deep", "--json")
	var v struct {
		OK bool `json:"ok"`
	}
	json.Unmarshal([]byte(out), &v)
	if !v.OK {
		t.Fatalf("local store not intact after pulls through faults:\n%s", out)
	}
	for _, f := range []string{"data/big.bin", "data/many/f00.bin", "data/many/f39.bin"} {
		if a, b := b3file(t, filepath.Join(repo, f)), b3file(t, filepath.Join(clone, f)); a != b {
			t.Fatalf("%s differs after pull through faults", f)
		}
	}
	stats.mu.Lock()
	defer stats.mu.Unlock()
	t.Logf("requests %d: %d error answers, %d resets, %d truncated bodies, %d stalls", stats.requests, stats.errors, stats.resets, stats.truncs, stats.stalls)
	if stats.errors == 0 || stats.resets == 0 || stats.truncs == 0 {
		t.Fatalf("the proxy did not inject every kind of fault (errors %d, resets %d, truncations %d): the test proved nothing", stats.errors, stats.resets, stats.truncs)
	}
}

func code(err error) int { return exitCode(err) }

// addObservations stores n observations of a model "churn" in a repository's
// local monitor store, as `trove observe` would, and returns n.
func addObservations(t *testing.T, repo string, n int) int {
	t.Helper()
	st := monitor.OpenStore(filepath.Join(repo, ".trove", "store", "monitor"))
	for i := 0; i < n; i++ {
		end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour).Format(time.RFC3339)
		o := &monitor.Observation{Trove: monitor.FormatVersion, Model: "churn", Version: "v1.0.0",
			Window: monitor.Window{Start: end, End: end}, RecordedAt: end,
			Metrics: map[string]float64{"accuracy": 0.9 - float64(i)/1000, "samples": 1000}}
		if _, err := st.Put(o); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// countObservations lists a repository's observations of "churn", each
// verified against its name.
func countObservations(t *testing.T, repo string) int {
	t.Helper()
	all, err := monitor.OpenStore(filepath.Join(repo, ".trove", "store", "monitor")).List("churn")
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}
