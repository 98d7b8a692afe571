package mapping

import "github.com/apimport/apimport/csvreport"

// TEMPORARY stubs so that other packages compile while mapping is written.
// The mapping implementer replaces this file with the real code (same signatures).

// Checker validates and dedupes rows across all input files. Not safe for concurrent use;
// see Prepare for the parallel part.
type Checker struct{}

// New validates the option values (a bad --group-tag/--assigned-user is a usage error).
func New(opts Options) (*Checker, error) { return &Checker{}, nil }

// Add takes the next row in input order.
func (c *Checker) Add(row csvreport.Row) {}

// Results returns one Result per row added, in input order. Call after the last Add:
// conflicts can only be decided once every row is seen.
func (c *Checker) Results() []Result { return nil }

// Summary counts the results; files is the number of input files.
func (c *Checker) Summary(files int) Summary { return Summary{Files: files} }
