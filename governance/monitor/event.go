package monitor

import (
	"fmt"
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
