// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package runners

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Runner is one entry of Gitea's runner list (modules/structs ActionRunner).
type Runner struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Status is "online" or "offline"; Gitea says offline when the runner
	// has not been seen for more than a minute.
	Status    string  `json:"status"`
	Busy      bool    `json:"busy"`
	Ephemeral bool    `json:"ephemeral"`
	Labels    []Label `json:"labels"`
}

// Label is one of a runner's labels (ActionRunnerLabel).
type Label struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// Online reports whether Gitea sees the runner as connected.
func (r Runner) Online() bool { return r.Status == "online" }

// Page is one answer of a runner list request (ActionRunnersResponse).
type Page struct {
	Runners []Runner
	// TotalCount is the length of the whole list, or -1 if the answer
	// did not say.
	TotalCount int64
}

// wirePage keeps "field missing" apart from "empty", so that a JSON answer
// from something that is not the runner API (a proxy, another endpoint) is
// an error instead of an empty list that would look healthy. A null list
// is taken as empty.
type wirePage struct {
	Runners    json.RawMessage `json:"runners"`
	TotalCount *int64          `json:"total_count"`
}

// errNoRunnerList says the JSON was valid but was not a runner list.
var errNoRunnerList = errors.New(`no "runners" list in the answer`)

// DecodePage parses one runner list answer.
func DecodePage(b []byte) (Page, error) {
	var w wirePage
	if err := json.Unmarshal(b, &w); err != nil {
		return Page{}, fmt.Errorf("malformed JSON: %w", err)
	}
	if w.Runners == nil {
		return Page{}, errNoRunnerList
	}
	p := Page{TotalCount: -1}
	if err := json.Unmarshal(w.Runners, &p.Runners); err != nil {
		return Page{}, fmt.Errorf("malformed JSON in \"runners\": %w", err)
	}
	if w.TotalCount != nil {
		if *w.TotalCount < 0 {
			return Page{}, fmt.Errorf("negative total_count %d", *w.TotalCount)
		}
		p.TotalCount = *w.TotalCount
	}
	return p, nil
}
