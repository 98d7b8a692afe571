// Package importertest holds helpers for tests that run the import engine.
package importertest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/apimport/apimport/importer"
)

// Collector gathers the results an engine emits; safe for concurrent use.
type Collector struct {
	mu  sync.Mutex
	Out []importer.DeviceResult
}

// Emit is the engine's emit function.
func (c *Collector) Emit(d importer.DeviceResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Out = append(c.Out, d)
}

// Results returns a copy of what was emitted so far.
func (c *Collector) Results() []importer.DeviceResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]importer.DeviceResult(nil), c.Out...)
}

// ResultOf returns the first result for serial, or the zero value.
func (c *Collector) ResultOf(serial string) importer.DeviceResult {
	for _, d := range c.Results() {
		if d.Serial == serial {
			return d
		}
	}
	return importer.DeviceResult{}
}

// AssertOneResultPerRow fails t unless every one of rows lines got exactly one result.
func (c *Collector) AssertOneResultPerRow(t testing.TB, rows int) {
	t.Helper()
	out := c.Results()
	if len(out) != rows {
		t.Fatalf("emitted %d results for %d rows", len(out), rows)
	}
	seen := map[string]bool{}
	for _, d := range out {
		k := fmt.Sprintf("%s:%d", d.File, d.Line)
		if seen[k] {
			t.Fatalf("row %s emitted twice", k)
		}
		seen[k] = true
	}
}
