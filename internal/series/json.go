package series

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Schema names the JSON layout WriteJSON writes; see the package doc.
const Schema = "leakcheck.series/v1"

type jsonSeries struct {
	Schema  string       `json:"schema"`
	Target  string       `json:"target"`
	Samples []jsonSample `json:"samples"`
}

type jsonSample struct {
	Iteration int            `json:"iteration"`
	Time      time.Time      `json:"time"`
	Counts    map[string]int `json:"counts"`
}

// MarshalJSON encodes the series in the documented schema.
func (s *Series) MarshalJSON() ([]byte, error) {
	j := jsonSeries{Schema: Schema, Target: s.Target, Samples: make([]jsonSample, len(s.Samples))}
	for i, sm := range s.Samples {
		c := sm.Counts
		if c == nil {
			c = Counts{}
		}
		j.Samples[i] = jsonSample{Iteration: sm.Iteration, Time: sm.Time, Counts: c}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the documented schema, rejecting another schema,
// negative counts and samples out of time order.
func (s *Series) UnmarshalJSON(b []byte) error {
	var j jsonSeries
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("series: %w", err)
	}
	if j.Schema != Schema {
		return fmt.Errorf("series: schema %q, want %q", j.Schema, Schema)
	}
	out := Series{Target: j.Target, Samples: make([]Sample, len(j.Samples))}
	for i, js := range j.Samples {
		if i > 0 && js.Time.Before(j.Samples[i-1].Time) {
			return fmt.Errorf("series: sample %d is older than sample %d: samples must be in order of time", i, i-1)
		}
		for k, n := range js.Counts {
			if n < 0 {
				return fmt.Errorf("series: sample %d: %q has a negative count %d", i, k, n)
			}
			if k == "" {
				return fmt.Errorf("series: sample %d: empty category key", i)
			}
		}
		out.Samples[i] = Sample{Iteration: js.Iteration, Time: js.Time, Counts: Counts(js.Counts)}
	}
	*s = out
	return nil
}

// WriteJSON writes the series as indented JSON in the documented schema.
func (s *Series) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadJSON reads a series WriteJSON wrote.
func ReadJSON(r io.Reader) (*Series, error) {
	var s Series
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return nil, err
	}
	return &s, nil
}
