package monitor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/trove-dev/trove/objects"
)

// CloudEvents attributes of the event `trove monitor --emit` writes.
const (
	// EventType is the CloudEvents type of a breach.
	EventType = "dev.trove.monitor.retrain_recommended"
	// EventContentType is the media type of the event's data.
	EventContentType = "application/json"
	// EventMediaType is the media type of one event in the structured JSON
	// format (a file `trove monitor --emit` writes for one breached model).
	EventMediaType = "application/cloudevents+json"
	// BatchMediaType is the media type of the CloudEvents JSON batch format:
	// a JSON array of structured events (several breached models).
	BatchMediaType = "application/cloudevents-batch+json"
	// MaxBatch is the most events one batch may hold.
	MaxBatch = 1000
)

// Event is a CloudEvents 1.0 event in the structured JSON format
// (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md):
// the message a pipeline triggers on when monitoring recommends retraining. Its
// ID is the BLAKE3 of the canonical encoding of Data, so an event names its
// content, and `trove run --trigger` can check that it was not altered.
type Event struct {
	Data            EventData `json:"data"`
	DataContentType string    `json:"datacontenttype"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	SpecVersion     string    `json:"specversion"`
	Subject         string    `json:"subject"`
	Time            string    `json:"time"`
	Type            string    `json:"type"`
}

// EventData is the event's payload: which version breached which monitors on
// which observations.
type EventData struct {
	Breached       []Result `json:"breached"`
	Digest         string   `json:"digest,omitempty"`
	EvaluatedAt    string   `json:"evaluated_at"`
	Model          string   `json:"model"`
	Observations   []string `json:"observations"`
	PolicyDigest   string   `json:"policy_digest,omitempty"`
	Recommendation string   `json:"recommendation"`
	Stage          string   `json:"stage,omitempty"`
	Trove          int      `json:"trove"`
	Version        string   `json:"version"`
}

// NewEvent builds the event of a breached report.
func NewEvent(rep Report) (*Event, error) {
	d := EventData{
		Breached: []Result{}, Digest: rep.Digest, EvaluatedAt: rep.EvaluatedAt, Model: rep.Model,
		Observations: []string{}, PolicyDigest: rep.PolicyDigest, Recommendation: "retrain",
		Stage: rep.Stage, Trove: FormatVersion, Version: rep.Version,
	}
	for _, r := range rep.Results {
		if r.Status == StatusBreach {
			d.Breached = append(d.Breached, r)
		}
	}
	if rep.Observation != "" {
		d.Observations = append(d.Observations, rep.Observation)
	}
	for _, r := range d.Breached {
		for _, id := range r.Observations {
			if !slices.Contains(d.Observations, id) {
				d.Observations = append(d.Observations, id)
			}
		}
	}
	if rep.Reference != "" {
		d.Observations = append(d.Observations, rep.Reference)
	}
	id, err := dataID(d)
	if err != nil {
		return nil, err
	}
	return &Event{
		Data: d, DataContentType: EventContentType, ID: id.String(),
		Source: "trove:monitor/" + rep.Model, SpecVersion: "1.0",
		Subject: rep.Model + "@" + rep.Version, Time: rep.EvaluatedAt, Type: EventType,
	}, nil
}

// dataID is the BLAKE3 of the data's canonical encoding (sorted keys: the
// fields are declared in key order; two-space indent; trailing newline).
func dataID(d EventData) (objects.ID, error) {
	b, err := canonical(d)
	if err != nil {
		return objects.ID{}, err
	}
	return objects.Hash(b), nil
}

// Encode returns the event's canonical encoding (sorted keys, two-space
// indent, trailing newline).
func (e *Event) Encode() ([]byte, error) { return canonical(e) }

// DecodeEvent reads an event strictly (only the attributes above, CloudEvents
// 1.0, trove's type) and checks that its id is the digest of its data. Any
// JSON layout is accepted: a CI system may have re-indented it.
func DecodeEvent(b []byte) (*Event, error) {
	if len(b) > MaxObservationSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrEvent, MaxObservationSize)
	}
	var e Event
	if err := strictJSON(b, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEvent, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
	}
	switch {
	case e.SpecVersion != "1.0":
		return nil, fmt.Errorf("%w: specversion %q, want \"1.0\"", ErrEvent, e.SpecVersion)
	case e.Type != EventType:
		return nil, fmt.Errorf("%w: type %q, want %q", ErrEvent, e.Type, EventType)
	case e.Data.Trove != FormatVersion:
		return nil, fmt.Errorf("%w: data.trove %d; this trove reads %d", ErrEvent, e.Data.Trove, FormatVersion)
	case e.Data.Model == "" || e.Data.Version == "":
		return nil, fmt.Errorf("%w: data names no model version", ErrEvent)
	}
	if _, err := time.Parse(time.RFC3339, e.Time); err != nil {
		return nil, fmt.Errorf("%w: time %q: %v", ErrEvent, e.Time, err)
	}
	for _, o := range e.Data.Observations {
		if _, err := objects.ParseID(o); err != nil {
			return nil, fmt.Errorf("%w: observation %q is not an id", ErrEvent, o)
		}
	}
	if e.Data.Breached == nil {
		e.Data.Breached = []Result{}
	}
	want, err := dataID(e.Data)
	if err != nil {
		return nil, err
	}
	if e.ID != want.String() {
		return nil, fmt.Errorf("%w: id %s is not the digest of its data (%s): the event was altered", ErrEvent, e.ID, want)
	}
	// The id covers the data only: the attributes a consumer routes on must
	// say the same thing, or a batch could be filtered on a lie.
	if e.Subject != e.Data.Model+"@"+e.Data.Version {
		return nil, fmt.Errorf("%w: subject %q does not name the data's model version %s@%s: the event was altered", ErrEvent, e.Subject, e.Data.Model, e.Data.Version)
	}
	if e.Source != "trove:monitor/"+e.Data.Model {
		return nil, fmt.Errorf("%w: source %q, want %q: the event was altered", ErrEvent, e.Source, "trove:monitor/"+e.Data.Model)
	}
	return &e, nil
}

// Summary is one line for people: what breached, on which observations.
func (e *Event) Summary() string {
	var ids []string
	for _, r := range e.Data.Breached {
		ids = append(ids, r.Monitor)
	}
	where := e.Data.Model + "@" + e.Data.Version
	if e.Data.Stage != "" {
		where += " in " + e.Data.Stage
	}
	var obs []string
	for _, o := range e.Data.Observations {
		if id, err := objects.ParseID(o); err == nil {
			obs = append(obs, "blake3:"+id.Short())
		}
	}
	return fmt.Sprintf("monitoring of %s breached %s at %s (observations %s)", where, strings.Join(ids, ", "), e.Time, strings.Join(obs, ", "))
}

// EncodeBatch returns the events in the CloudEvents JSON batch format
// (BatchMediaType): a JSON array of structured events, canonically encoded
// (sorted keys, two-space indent, trailing newline). An empty batch is "[]".
func EncodeBatch(evs []*Event) ([]byte, error) {
	if evs == nil {
		evs = []*Event{}
	}
	return canonical(evs)
}

// DecodeEvents reads what `trove monitor --emit` writes: one event in the
// structured JSON format (a JSON object), or a batch in the CloudEvents JSON
// batch format (a JSON array of them; the first non-blank byte tells). Each
// event is checked as DecodeEvent checks it. An empty batch, more than
// MaxBatch events, or one event twice is ErrEvent.
func DecodeEvents(b []byte) ([]*Event, error) {
	if len(b) > MaxObservationSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrEvent, MaxObservationSize)
	}
	trim := bytes.TrimLeft(b, " \t\r\n")
	if len(trim) == 0 || trim[0] != '[' {
		e, err := DecodeEvent(b)
		if err != nil {
			return nil, err
		}
		return []*Event{e}, nil
	}
	var raw []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: batch: %v", ErrEvent, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: batch: data after the JSON array", ErrEvent)
	}
	switch {
	case len(raw) == 0:
		return nil, fmt.Errorf("%w: the batch holds no events", ErrEvent)
	case len(raw) > MaxBatch:
		return nil, fmt.Errorf("%w: the batch holds %d events; at most %d", ErrEvent, len(raw), MaxBatch)
	}
	out := make([]*Event, 0, len(raw))
	seen := map[string]bool{}
	for i, r := range raw {
		e, err := DecodeEvent(r)
		if err != nil {
			return nil, fmt.Errorf("batch event %d: %w", i+1, err)
		}
		if seen[e.ID] {
			return nil, fmt.Errorf("%w: batch event %d: %s appears twice", ErrEvent, i+1, e.ID)
		}
		seen[e.ID] = true
		out = append(out, e)
	}
	return out, nil
}

// ErrNoEventForModel: a batch has no event about the model being trained.
var ErrNoEventForModel = errors.New("no event in the batch is about the model")

// SelectEvents keeps the events whose subject names model (NAME@VERSION); an
// empty model keeps them all. None left is ErrNoEventForModel, naming the
// subjects there are.
func SelectEvents(evs []*Event, model string) ([]*Event, error) {
	if model == "" {
		return evs, nil
	}
	var out []*Event
	var subjects []string
	for _, e := range evs {
		subjects = append(subjects, e.Subject)
		if name, _, _ := strings.Cut(e.Subject, "@"); name == model {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w %s: its events are about %s", ErrNoEventForModel, model, strings.Join(subjects, ", "))
	}
	return out, nil
}

// TriggerPrefix marks a lineage trigger that names a monitoring event.
const TriggerPrefix = "event:"

// Trigger is what a lineage records for the events that started a step:
// "event:<id>", space-separated when there are several.
func Trigger(evs []*Event) string {
	parts := make([]string, len(evs))
	for i, e := range evs {
		parts[i] = TriggerPrefix + e.ID
	}
	return strings.Join(parts, " ")
}

// TriggerEvents returns the event ids a lineage trigger names, and false when
// it is not (only) events: a CI run URL or a ref recorded as given.
func TriggerEvents(trigger string) ([]objects.ID, bool) {
	fields := strings.Fields(trigger)
	if len(fields) == 0 || strings.Join(fields, " ") != trigger {
		return nil, false
	}
	var ids []objects.ID
	for _, f := range fields {
		s, ok := strings.CutPrefix(f, TriggerPrefix)
		if !ok {
			return nil, false
		}
		id, err := objects.ParseID(s)
		if err != nil {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}
