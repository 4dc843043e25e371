package monitor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trove-dev/trove/governance"
	"github.com/trove-dev/trove/manifest"
)

// ErrNoHolder: no version held the stage at the time asked about.
var ErrNoHolder = errors.New("no version held the stage")

// Resolve turns a reference into the model version it names at time at:
//
//	NAME@vX.Y.Z        that version (NAME#... and NAME@... with a stage: the stage)
//	NAME@STAGE         the version that held STAGE at time at, from the
//	NAME#STAGE         registry's stage history (git tags alone)
//	NAME               the same, for the last of the configured stages
//	                   (production by default)
//
// It reads the version's manifest at its registration commit for the metrics
// recorded at training time. Unknown models, versions and stages are
// governance.ErrUnknownModel, ErrUnknownVersion and ErrUnknownStage; a stage
// nobody held then is ErrNoHolder.
func Resolve(ctx context.Context, r *manifest.Repo, reg *governance.Registry, stages []string, arg string, at time.Time) (Subject, error) {
	name, rest, sep := arg, "", ""
	if i := strings.IndexAny(arg, "@#"); i >= 0 {
		name, rest, sep = arg[:i], arg[i+1:], arg[i:i+1]
	}
	if !governance.ValidModelName(name) {
		return Subject{}, fmt.Errorf("%w %q: want NAME, NAME@VERSION or NAME@STAGE", governance.ErrBadRef, arg)
	}
	m, err := reg.Model(name, time.Time{}, stages)
	if err != nil {
		return Subject{}, err
	}
	s := Subject{Model: name}
	version := ""
	if sep == "@" {
		if v, err := governance.ParseVersion(rest); err == nil {
			version = v
		} else if !governance.ValidStage(rest) {
			return Subject{}, fmt.Errorf("%w %q: %q is neither a version (v1.2.0) nor a stage", governance.ErrBadRef, arg, rest)
		} else {
			s.Stage = rest
		}
	} else if sep == "#" {
		s.Stage = rest
	} else if len(stages) > 0 {
		s.Stage = stages[len(stages)-1]
	}
	if s.Stage != "" {
		if !slices.Contains(stages, s.Stage) {
			return Subject{}, fmt.Errorf("%w %q: the stages are %s", governance.ErrUnknownStage, s.Stage, strings.Join(stages, ", "))
		}
		for _, h := range governance.HoldersAt(m, at) {
			if h.Stage == s.Stage {
				version = h.Version
			}
		}
		if version == "" {
			return Subject{}, fmt.Errorf("%w: no version of %s held %s at %s", ErrNoHolder, name, s.Stage, at.UTC().Format(time.RFC3339))
		}
	}
	var vi *governance.VersionInfo
	for i := range m.Versions {
		if m.Versions[i].Version == version {
			vi = &m.Versions[i]
		}
	}
	if vi == nil {
		return Subject{}, fmt.Errorf("%w %s@%s", governance.ErrUnknownVersion, name, version)
	}
	s.Version, s.Digest, s.Path = vi.Version, vi.Digest, vi.Artifact
	if vi.Artifact != "" {
		ts, err := r.ManifestsAt(ctx, vi.Commit, []string{vi.Artifact})
		if err != nil {
			return Subject{}, fmt.Errorf("read %s@%s's manifest: %w", name, version, err)
		}
		for _, t := range ts {
			if t.Path == vi.Artifact && t.Err == nil {
				s.Training = t.Manifest.Metrics
			}
		}
	}
	if s.Training == nil {
		s.Training = map[string]float64{}
	}
	return s, nil
}
