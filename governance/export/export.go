package export

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/trove-dev/trove/governance/report"
	"github.com/trove-dev/trove/objects"
)

// Formats.
const (
	FormatInToto      = "intoto"
	FormatOpenLineage = "openlineage"
	FormatCycloneDX   = "cyclonedx"
)

// Formats lists the formats Write knows.
var Formats = []string{FormatInToto, FormatOpenLineage, FormatCycloneDX}

// ErrFormat: a format Write does not know.
var ErrFormat = errors.New("unknown export format")

// Producer is the URI the exports name as their producer.
const Producer = "https://github.com/trove-dev/trove"

// Write writes the export of rep in format: one JSON document (intoto,
// cyclonedx) or JSON Lines, one event a line (openlineage).
func Write(w io.Writer, format string, rep *report.Report) error {
	switch format {
	case FormatInToto:
		st, err := InToto(rep)
		if err != nil {
			return err
		}
		return writeJSON(w, st, true)
	case FormatCycloneDX:
		bom, err := CycloneDX(rep)
		if err != nil {
			return err
		}
		return writeJSON(w, bom, true)
	case FormatOpenLineage:
		evs, err := OpenLineage(rep)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if err := writeJSON(w, ev, false); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w %q: want %s", ErrFormat, format, strings.Join(Formats, ", "))
}

func writeJSON(w io.Writer, v any, indent bool) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// hexOf returns the hex of a "blake3:<hex>" or "sha256:<hex>" digest.
func hexOf(d string) string {
	if _, h, ok := strings.Cut(d, ":"); ok {
		return h
	}
	return d
}

// namespace is the OpenLineage namespace of the repository: "trove://" and
// origin's host and path (no scheme, credentials or ".git"), else
// "trove://local/" and the directory name.
func namespace(r report.Repository) string {
	if r.Remote != "" {
		s := r.Remote
		if u, err := url.Parse(s); err == nil && u.Host != "" {
			s = u.Host + u.Path
		} else if at := strings.Index(s, "@"); at >= 0 && strings.Contains(s[at:], ":") {
			// scp-like: git@host:org/repo.git
			host, path, _ := strings.Cut(s[at+1:], ":")
			s = host + "/" + strings.TrimPrefix(path, "/")
		}
		s = strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
		if s != "" && !strings.HasPrefix(s, "/") {
			return "trove://" + s
		}
	}
	return "trove://local/" + r.Name
}

// runUUID is a run's id: a UUIDv7 (RFC 9562) whose timestamp is the run's start
// (or at, when it recorded none) and whose other 74 bits are taken from the
// BLAKE3 of seed, so the same run always gets the same id.
func runUUID(started string, at string, seed string) string {
	t, err := time.Parse(time.RFC3339, started)
	if err != nil {
		t, _ = time.Parse(time.RFC3339, at)
	}
	ms := uint64(max(t.UnixMilli(), 0))
	h := objects.Hash([]byte(seed))
	var u [16]byte
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	copy(u[6:], h[:10])
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // variant 10
	return formatUUID(u)
}

// serialUUID is a UUIDv8 (RFC 9562, custom) made of the BLAKE3 of seed.
func serialUUID(seed string) string {
	h := objects.Hash([]byte(seed))
	var u [16]byte
	copy(u[:], h[:16])
	u[6] = 0x80 | u[6]&0x0f // version 8
	u[8] = 0x80 | u[8]&0x3f
	return formatUUID(u)
}

func formatUUID(u [16]byte) string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// digestSet returns the in-toto / CycloneDX view of a subject's digests.
func subjectDigests(s report.Subject) map[string]string {
	d := map[string]string{"blake3": hexOf(s.Digests.BLAKE3)}
	if s.Digests.SHA256 != "" {
		if s.Type == "dir" {
			d["dirHash"] = hexOf(s.Digests.SHA256)
		} else {
			d["sha256"] = hexOf(s.Digests.SHA256)
		}
	}
	return d
}

// subjectRun returns the run that made the subject, if one was recorded.
func subjectRun(rep *report.Report) *report.Run {
	for _, n := range rep.Lineage.Nodes {
		if n.ID == rep.Lineage.Root && n.Run != "" {
			for i := range rep.Lineage.Runs {
				if rep.Lineage.Runs[i].ID == n.Run {
					return &rep.Lineage.Runs[i]
				}
			}
		}
	}
	return nil
}

// runID is the id of a run in the exports (the same in in-toto and
// OpenLineage). A run that recorded no start time is dated by the commit that
// recorded its first output.
func runID(rep *report.Report, r *report.Run) string {
	seed := r.Started + "\x00" + r.Ended + "\x00" + strings.Join(r.Command, "\x00")
	for _, o := range r.Outputs {
		seed += "\x00" + o.Path + "\x00" + o.Digest
	}
	return runUUID(r.Started, runTime(rep, r), seed)
}

// runTime is when a run is said to have happened when it recorded no time:
// the commit time of its first output, else the report's time.
func runTime(rep *report.Report, r *report.Run) string {
	if len(r.Outputs) > 0 {
		for _, n := range rep.Lineage.Nodes {
			if n.ID == r.Outputs[0].Node && n.Time != "" {
				return n.Time
			}
		}
	}
	return rep.GeneratedAt
}
