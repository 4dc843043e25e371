package main

// Crash consistency: trove commands killed with SIGKILL at random moments, then
// run again. Afterwards the store must verify deep, the data must match, and
// nothing stored before must be damaged. TROVE_CHAOS_ITER sets the number of
// rounds (make chaos runs many; make test a few).

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"
)

func TestKilledCommandsLeaveConsistentState(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	rounds := 2
	if n, err := strconv.Atoi(os.Getenv("TROVE_CHAOS_ITER")); err == nil && n > 0 {
		rounds = n
	}
	seed := time.Now().UnixNano()
	if s, err := strconv.ParseInt(os.Getenv("TROVE_CHAOS_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (TROVE_CHAOS_SEED=%d reproduces this run), %d rounds", seed, seed, rounds)
	rng := rand.New(rand.NewSource(seed))

	home := t.TempDir()
	env := gitEnv(home)
	tr := runner{t: t, bin: troveBin(t), env: env}
	git := runner{t: t, bin: "git", env: env}
	repo := filepath.Join(t.TempDir(), "repo")
	remoteDir := filepath.Join(t.TempDir(), "remote")
	os.MkdirAll(filepath.Join(repo, "data"), 0o755)
	git.must(repo, "init", "-q")
	tr.must(repo, "init")
	tr.must(repo, "remote", "add", "origin", remoteDir)

	// A first version that must survive everything.
	base := make([]byte, 8<<20)
	rng.Read(base)
	os.WriteFile(filepath.Join(repo, "data", "base.bin"), base, 0o644)
	// And enough small files (one chunk each) for the store to merge its index
	// into a midx file, so that kills also land in midx writes and merges (add,
	// gc's rewrite of a file whose packs it removed, pull into a fresh store).
	many := filepath.Join(repo, "data", "many")
	os.MkdirAll(many, 0o755)
	for i := 0; i < 4500; i++ {
		b := make([]byte, 1+rng.Intn(300))
		rng.Read(b)
		os.WriteFile(filepath.Join(many, fmt.Sprintf("f%04d", i)), b, 0o644)
	}
	tr.must(repo, "add", "data/base.bin", "data/many")
	if m, _ := filepath.Glob(filepath.Join(repo, ".trove", "store", "midx", "*.midx")); len(m) == 0 {
		t.Fatal("the base add wrote no midx file: the test no longer exercises it")
	}
	nObs := addObservations(t, repo, 40)
	tr.must(repo, "push")
	baseDigest := b3file(t, filepath.Join(repo, "data", "base.bin"))

	killAfter := func(dir string, d time.Duration, args ...string) {
		cmd := exec.Command(tr.bin, args...)
		cmd.Dir, cmd.Env = dir, tr.env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(d):
			cmd.Process.Kill()
			<-done
		}
	}

	for round := 0; round < rounds; round++ {
		// New data: a big file and some small ones.
		big := make([]byte, (4+rng.Intn(12))<<20)
		rng.Read(big)
		name := fmt.Sprintf("data/v%d.bin", round)
		os.WriteFile(filepath.Join(repo, name), big, 0o644)
		dir := filepath.Join(repo, "data", fmt.Sprintf("d%d", round))
		os.MkdirAll(dir, 0o755)
		for i := 0; i < 50; i++ {
			b := make([]byte, 1+rng.Intn(20000))
			rng.Read(b)
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), b, 0o644)
		}
		steps := [][]string{
			{"add", name, fmt.Sprintf("data/d%d", round)},
			{"push"},
			{"checkout", "--force"},
			{"gc", "--grace", "0s"},
		}
		for _, args := range steps {
			killAfter(repo, time.Duration(rng.Intn(150))*time.Millisecond, args...)
			tr.must(repo, args...) // rerun to completion
		}
		// Lose the working copy and restore it from the store.
		os.Remove(filepath.Join(repo, name))
		killAfter(repo, time.Duration(rng.Intn(60))*time.Millisecond, "checkout")
		tr.must(repo, "checkout")
		if got, want := b3file(t, filepath.Join(repo, name)), fmt.Sprintf("blake3:%x", blake3Sum(big)); got != want {
			t.Fatalf("round %d: %s after killed checkout is %s, want %s", round, name, got, want)
		}
		tr.must(repo, "verify", "--deep")
		tr.must(repo, "verify", "--deep", "--remote", "origin")
		if got := b3file(t, filepath.Join(repo, "data", "base.bin")); got != baseDigest {
			t.Fatalf("round %d: base.bin changed", round)
		}
		// A pull into a fresh store, killed and rerun, ends byte-identical.
		git.must(repo, "add", "-A")
		git.must(repo, "commit", "-qm", fmt.Sprint("round ", round))
		clone := filepath.Join(t.TempDir(), "clone")
		git.must(filepath.Dir(clone), "clone", "-q", repo, clone)
		killAfter(clone, time.Duration(rng.Intn(200))*time.Millisecond, "pull")
		tr.must(clone, "pull")
		tr.must(clone, "verify", "--deep")
		if got := countObservations(t, clone); got != nObs {
			t.Fatalf("round %d: the clone has %d observations after a killed pull and a rerun, want %d", round, got, nObs)
		}
		if a, b := b3file(t, filepath.Join(repo, name)), b3file(t, filepath.Join(clone, name)); a != b {
			t.Fatalf("round %d: clone's %s differs", round, name)
		}
		// No half-written files were left beside the data.
		filepath.Walk(repo, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && filepath.Base(filepath.Dir(p)) != "tmp" && containsTmp(info.Name()) {
				t.Errorf("round %d: leftover temporary file %s", round, p)
			}
			return nil
		})
	}
}

func containsTmp(name string) bool { return stringsContains(name, ".trove-tmp-") }

func stringsContains(s, sub string) bool { return strings.Contains(s, sub) }

func blake3Sum(b []byte) []byte {
	h := blake3.New()
	h.Write(b)
	return h.Sum(nil)
}
