// Command bench is the helper that scripts/bench.sh builds and runs: it generates
// deterministic random test data quickly, derives second versions of a file, and
// reads numbers out of JSON reports, so that the benchmark script needs nothing
// beyond bash, coreutils and the tools it compares.
//
//	bench gen FILE SIZE SEED                      random bytes (ChaCha8)
//	bench insert SRC DST OFFSET LEN SEED          copy SRC with LEN random bytes inserted at OFFSET
//	bench overwrite SRC DST COUNT LEN SEED        copy SRC, overwrite COUNT scattered LEN-byte runs
//	bench finetune SRC DST PERCENT BLOCK SEED     copy SRC, rewrite PERCENT% of its BLOCK-aligned blocks
//	bench smallfiles DIR COUNT DIRS MIN MAX SEED  COUNT files of MIN..MAX random bytes in DIRS subdirectories
//	bench median FILE                             median seconds of the first result of a hyperfine --export-json file
//	bench jsonsum KEY [FILE]                      sum of every number under KEY, at any depth (FILE or stdin)
//	bench filebytes DIR                           total size of the regular files under DIR
//	bench human BYTES                             BYTES as 1.5 GiB, 512 KiB, 12 B
//
// SIZE, OFFSET, LEN and BLOCK take K, M, G, T suffixes (powers of 1024). The
// commands that derive a file print the number of bytes they changed.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "gen":
		need(args, 3)
		err = gen(args[0], size(args[1]), seed(args[2]))
	case "insert":
		need(args, 5)
		err = insert(args[0], args[1], size(args[2]), size(args[3]), seed(args[4]))
	case "overwrite":
		need(args, 5)
		err = overwrite(args[0], args[1], int(size(args[2])), size(args[3]), seed(args[4]))
	case "finetune":
		need(args, 5)
		pct, perr := strconv.ParseFloat(args[2], 64)
		if perr != nil {
			fail(perr)
		}
		err = finetune(args[0], args[1], pct, size(args[3]), seed(args[4]))
	case "smallfiles":
		need(args, 6)
		err = smallfiles(args[0], int(size(args[1])), int(size(args[2])), size(args[3]), size(args[4]), seed(args[5]))
	case "median":
		need(args, 1)
		err = median(args[0])
	case "jsonsum":
		if len(args) < 1 || len(args) > 2 {
			usage()
		}
		err = jsonsum(args[0], args[1:])
	case "filebytes":
		need(args, 1)
		err = filebytes(args[0])
	case "human":
		need(args, 1)
		n, perr := strconv.ParseFloat(args[0], 64)
		if perr != nil {
			fail(perr)
		}
		fmt.Println(human(n))
	default:
		usage()
	}
	if err != nil {
		fail(err)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: bench gen|insert|overwrite|finetune|smallfiles|median|jsonsum|filebytes|human ARGS... (see the package comment)")
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	os.Exit(1)
}

func need(args []string, n int) {
	if len(args) != n {
		usage()
	}
}

// size parses 123, 64K, 1M, 1G, 4GiB.
func size(s string) int64 {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "IB"), "B")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		fail(fmt.Errorf("bad size %q", s))
	}
	return int64(n * float64(mult))
}

func seed(s string) uint64 {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		fail(fmt.Errorf("bad seed %q", s))
	}
	return n
}

func rng(seed uint64) *rand.ChaCha8 {
	var k [32]byte
	for i := range 8 {
		k[i] = byte(seed >> (8 * i))
	}
	copy(k[8:], "trove-bench-data-generator")
	return rand.NewChaCha8(k)
}

// randBytes writes n bytes of the stream r to w.
func randBytes(w io.Writer, r *rand.ChaCha8, n int64) error {
	buf := make([]byte, 1<<20)
	for n > 0 {
		b := buf[:min(int64(len(buf)), n)]
		_, _ = r.Read(b)
		if _, err := w.Write(b); err != nil {
			return err
		}
		n -= int64(len(b))
	}
	return nil
}

func create(path string) (*os.File, *bufio.Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, bufio.NewWriterSize(f, 1<<20), nil
}

func closeAll(f *os.File, w *bufio.Writer) error {
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func gen(path string, n int64, s uint64) error {
	f, w, err := create(path)
	if err != nil {
		return err
	}
	if err := randBytes(w, rng(s), n); err != nil {
		f.Close()
		return err
	}
	return closeAll(f, w)
}

func insert(src, dst string, off, n int64, s uint64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	f, w, err := create(dst)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(w, in, off); err != nil {
		f.Close()
		return fmt.Errorf("%s is shorter than %d bytes: %w", src, off, err)
	}
	if err := randBytes(w, rng(s), n); err != nil {
		f.Close()
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		f.Close()
		return err
	}
	if err := closeAll(f, w); err != nil {
		return err
	}
	fmt.Println(n)
	return nil
}

func copyFile(src, dst string) (*os.File, int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, 0, err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return nil, 0, err
	}
	n, err := io.Copy(out, in)
	if err != nil {
		out.Close()
		return nil, 0, err
	}
	return out, n, nil
}

// overwrite spreads count runs evenly over the file, each at a random offset
// inside its own slot, so that they land in different chunks.
func overwrite(src, dst string, count int, n int64, s uint64) error {
	out, total, err := copyFile(src, dst)
	if err != nil {
		return err
	}
	r := rng(s)
	pr := rand.New(r)
	slot := total / int64(count)
	if slot < n {
		out.Close()
		return fmt.Errorf("%s: %d runs of %d bytes do not fit in %d bytes", src, count, n, total)
	}
	buf := make([]byte, n)
	var changed int64
	for i := range count {
		off := int64(i)*slot + pr.Int64N(slot-n+1)
		_, _ = r.Read(buf)
		if _, err := out.WriteAt(buf, off); err != nil {
			out.Close()
			return err
		}
		changed += n
	}
	if err := out.Close(); err != nil {
		return err
	}
	fmt.Println(changed)
	return nil
}

// finetune rewrites a deterministic random pct% of the file's block-aligned blocks.
func finetune(src, dst string, pct float64, block int64, s uint64) error {
	out, total, err := copyFile(src, dst)
	if err != nil {
		return err
	}
	r := rng(s)
	pr := rand.New(r)
	blocks := int((total + block - 1) / block)
	k := int(float64(blocks)*pct/100 + 0.5)
	pick := pr.Perm(blocks)[:k]
	sort.Ints(pick)
	buf := make([]byte, block)
	var changed int64
	for _, b := range pick {
		off := int64(b) * block
		m := min(block, total-off)
		_, _ = r.Read(buf[:m])
		if _, err := out.WriteAt(buf[:m], off); err != nil {
			out.Close()
			return err
		}
		changed += m
	}
	if err := out.Close(); err != nil {
		return err
	}
	fmt.Println(changed)
	return nil
}

func smallfiles(dir string, count, dirs int, lo, hi int64, s uint64) error {
	r := rng(s)
	pr := rand.New(r)
	buf := make([]byte, hi)
	for d := range dirs {
		if err := os.MkdirAll(filepath.Join(dir, fmt.Sprintf("d%03d", d)), 0o755); err != nil {
			return err
		}
	}
	for i := range count {
		n := lo + pr.Int64N(hi-lo+1)
		_, _ = r.Read(buf[:n])
		p := filepath.Join(dir, fmt.Sprintf("d%03d", i%dirs), fmt.Sprintf("f%07d.bin", i))
		if err := os.WriteFile(p, buf[:n], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func median(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc struct {
		Results []struct {
			Median float64   `json:"median"`
			Times  []float64 `json:"times"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Results) == 0 {
		return fmt.Errorf("%s: no results", path)
	}
	fmt.Printf("%.6f\n", doc.Results[0].Median)
	return nil
}

func jsonsum(key string, files []string) error {
	var b []byte
	var err error
	if len(files) == 1 {
		b, err = os.ReadFile(files[0])
	} else {
		b, err = io.ReadAll(os.Stdin)
	}
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var sum float64
	found := false
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				if n, ok := x.(json.Number); ok && k == key {
					f, _ := n.Float64()
					sum += f
					found = true
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	// Accept a stream of JSON values (one document, or JSON lines).
	for {
		var v any
		if err := dec.Decode(&v); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		walk(v)
	}
	if !found {
		return fmt.Errorf("no number under key %q", key)
	}
	fmt.Println(strconv.FormatFloat(sum, 'f', -1, 64))
	return nil
}

func filebytes(dir string) error {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Println(total)
	return nil
}

func human(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	neg := n < 0
	if neg {
		n = -n
	}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	s := fmt.Sprintf("%.1f %s", n, units[i])
	if i == 0 {
		s = fmt.Sprintf("%.0f B", n)
	}
	if neg {
		s = "-" + s
	}
	return s
}
