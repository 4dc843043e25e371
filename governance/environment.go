package governance

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trove-dev/trove/objects"
)

// EnvAllowList are the environment variables a lineage records (as
// env.NAME): those that change what a training step computes or on what, and
// carry no secrets or personal paths. Everything else in the environment is left
// out on purpose.
var EnvAllowList = []string{
	"CUBLAS_WORKSPACE_CONFIG",
	"CUDA_VISIBLE_DEVICES",
	"CONDA_DEFAULT_ENV",
	"MKL_NUM_THREADS",
	"NVIDIA_VISIBLE_DEVICES",
	"OMP_NUM_THREADS",
	"OPENBLAS_NUM_THREADS",
	"PYTHONHASHSEED",
	"SOURCE_DATE_EPOCH",
	"TF_DETERMINISTIC_OPS",
	"TOKENIZERS_PARALLELISM",
}

// Lockfiles are the dependency lock files whose digests a lineage records (as
// lockfile.NAME) when they are at the top of the repository.
var Lockfiles = []string{
	"environment.yml",
	"go.sum",
	"package-lock.json",
	"poetry.lock",
	"requirements.txt",
	"uv.lock",
}

// ProbeTimeout bounds each version probe (`go version`, `python3 --version`).
const ProbeTimeout = 2 * time.Second

// CaptureEnvironment describes the machine a step runs on, as the keys of
// Lineage.Environment:
//
//	os, arch, cpus       runtime.GOOS, GOARCH and the number of CPUs
//	cpu                  the CPU model (Linux: /proc/cpuinfo)
//	go, python           versions of the toolchains on PATH, when found
//	env.NAME             the variables of EnvAllowList that are set
//	lockfile.NAME        BLAKE3 of the Lockfiles at the repository's top
//	trove                the version of trove, when given
//
// Probes that fail or time out are left out: a missing Python is a fact about
// the machine, not an error.
func CaptureEnvironment(ctx context.Context, w World, root, troveVersion string) map[string]string {
	env := map[string]string{
		"os":   runtime.GOOS,
		"arch": runtime.GOARCH,
		"cpus": strconv.Itoa(runtime.NumCPU()),
	}
	if troveVersion != "" {
		env["trove"] = troveVersion
	}
	if cpu := cpuModel(w); cpu != "" {
		env["cpu"] = cpu
	}
	// The probes run in parallel, each writing its own slot.
	probes := []struct {
		key  string
		args []string
		re   *regexp.Regexp
	}{
		{"go", []string{"go", "version"}, regexp.MustCompile(`\bgo version (go[0-9][^\s]*)`)},
		{"python", []string{"python3", "--version"}, regexp.MustCompile(`^Python ([0-9][^\s]*)`)},
	}
	found := make([]string, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		if w.Runner == nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			found[i] = probe(ctx, w.Runner, root, p.args, p.re)
		}()
	}
	for _, k := range EnvAllowList {
		if v := w.getenv(k); v != "" {
			env["env."+k] = v
		}
	}
	for _, f := range Lockfiles {
		fh, err := os.Open(filepath.Join(root, f))
		if err != nil {
			continue
		}
		if fi, err := fh.Stat(); err == nil && fi.Mode().IsRegular() {
			if id, _, err := objects.HashReader(fh); err == nil {
				env["lockfile."+f] = id.String()
			}
		}
		fh.Close()
	}
	wg.Wait()
	for i, p := range probes {
		if found[i] != "" {
			env[p.key] = found[i]
		}
	}
	return env
}

// probe runs a version command with ProbeTimeout and extracts the version.
func probe(ctx context.Context, r Runner, dir string, args []string, re *regexp.Regexp) string {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	var out bytes.Buffer
	code, err := r.Run(ctx, Cmd{Args: args, Dir: dir, Stdout: &out, Stderr: &out})
	if err != nil || code != 0 {
		return ""
	}
	m := re.FindStringSubmatch(strings.TrimSpace(out.String()))
	if m == nil {
		return ""
	}
	return m[1]
}

// cpuModel reads the first "model name" of /proc/cpuinfo (Linux).
func cpuModel(w World) string {
	b, err := w.readFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name", "Model", "cpu model", "Hardware":
			if v = strings.Join(strings.Fields(v), " "); v != "" {
				return v
			}
		}
	}
	return ""
}
