package main

// Concurrency: two trove processes in one repository wait for each other (or say
// clearly who holds the lock); two clones push to one remote at once; gc of a
// remote while another clone pushes loses nothing.

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trove-dev/trove/manifest"
)

func TestLockHeldByAnotherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs trove")
	}
	env := gitEnv(t.TempDir())
	tr := runner{t: t, bin: troveBin(t), env: append(env, "TROVE_LOCK_WAIT=300ms")}
	git := runner{t: t, bin: "git", env: env}
	repo := filepath.Join(t.TempDir(), "repo")
	os.MkdirAll(repo, 0o755)
	git.must(repo, "init", "-q")
	tr.must(repo, "init")
	os.WriteFile(filepath.Join(repo, "a.bin"), []byte("some data"), 0o644)

	r, err := manifest.Open(repo)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := r.Lock(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	_, errs, err := tr.run(repo, "add", "a.bin")
	if code := exitCode(err); code != 1 {
		t.Fatalf("add while locked exited %d, want 1; stderr:\n%s", code, errs)
	}
	if !strings.Contains(errs, fmt.Sprintf("another trove process is using this repository (pid %d)", os.Getpid())) ||
		!strings.Contains(errs, "trove: hint: wait for the other trove command") {
		t.Fatalf("lock message does not name the holder or say what to do:\n%s", errs)
	}
	if _, err := os.Stat(filepath.Join(repo, "a.bin.trove")); err == nil {
		t.Fatal("add wrote a manifest without the lock")
	}
	// Released (or its holder dead: flock goes with the process): the next one runs.
	unlock()
	tr.must(repo, "add", "a.bin")
	// A waiting command proceeds as soon as the holder is done.
	unlock, err = r.Lock(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(100 * time.Millisecond); unlock() }()
	slow := runner{t: t, bin: tr.bin, env: append(env, "TROVE_LOCK_WAIT=10s")}
	slow.must(repo, "checkout")
}

func TestTwoClonesPushAtOnceAndGCDuringPush(t *testing.T) {
	if testing.Short() {
		t.Skip("runs trove")
	}
	env := gitEnv(t.TempDir())
	tr := runner{t: t, bin: troveBin(t), env: env}
	git := runner{t: t, bin: "git", env: env}
	remoteDir := filepath.Join(t.TempDir(), "remote")
	origin := filepath.Join(t.TempDir(), "origin.git")
	git.must(filepath.Dir(origin), "init", "-q", "--bare", "--initial-branch=main", origin)

	seed := filepath.Join(t.TempDir(), "seed")
	os.MkdirAll(seed, 0o755)
	git.must(seed, "init", "-q", "--initial-branch=main")
	tr.must(seed, "init")
	tr.must(seed, "remote", "add", "origin", remoteDir)
	os.WriteFile(filepath.Join(seed, "README"), []byte("shared\n"), 0o644)
	git.must(seed, "add", "-A")
	git.must(seed, "commit", "-qm", "start")
	git.must(seed, "push", "-q", origin, "HEAD:main")

	rng := rand.New(rand.NewSource(5))
	clones := []string{}
	for i := 0; i < 2; i++ {
		c := filepath.Join(t.TempDir(), fmt.Sprintf("c%d", i))
		git.must(filepath.Dir(c), "clone", "-q", origin, c)
		b := make([]byte, 24<<20)
		rng.Read(b)
		os.MkdirAll(filepath.Join(c, fmt.Sprintf("d%d", i)), 0o755)
		os.WriteFile(filepath.Join(c, fmt.Sprintf("d%d", i), "data.bin"), b, 0o644)
		tr.must(c, "add", fmt.Sprintf("d%d/data.bin", i))
		clones = append(clones, c)
	}
	// Both push at once, while the seed clone (which knows neither new commit)
	// collects the remote with the default grace period.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	outs := make([]string, 3)
	for i, c := range clones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, outs[i], errs[i] = tr.run(c, "push", "--jobs", "2")
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(50 * time.Millisecond)
		_, outs[2], errs[2] = tr.run(seed, "gc", "--remote", "origin")
	}()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("command %d failed: %v\n%s", i, err, outs[i])
		}
	}
	// Nothing either clone pushed was lost: each verifies deep against the remote.
	for _, c := range clones {
		tr.must(c, "verify", "--remote", "origin", "--deep")
	}
	// And even a gc with no grace, once the commits are shared, keeps them.
	for i, c := range clones {
		git.must(c, "add", "-A")
		git.must(c, "commit", "-qm", fmt.Sprint("data ", i))
		git.must(c, "pull", "-q", "--no-rebase", "--no-edit", origin, "main")
		git.must(c, "push", "-q", origin, "HEAD:main")
	}
	git.must(seed, "pull", "-q", "--no-rebase", "--no-edit", origin, "main")
	tr.must(seed, "gc", "--remote", "origin", "--grace", "0s")
	tr.must(seed, "pull")
	tr.must(seed, "verify", "--deep", "--remote", "origin")
	for i, c := range clones {
		name := filepath.Join(fmt.Sprintf("d%d", i), "data.bin")
		if a, b := b3file(t, filepath.Join(c, name)), b3file(t, filepath.Join(seed, name)); a != b {
			t.Fatalf("%s differs after concurrent pushes and gc", name)
		}
	}
}
