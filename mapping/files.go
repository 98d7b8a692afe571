package mapping

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/apimport/apimport/csvreport"
)

// Report is the outcome of CheckFiles.
type Report struct {
	Results    []Result                    // one per data row, in input order
	Summary    Summary                     // counts of Results; Files is len(files)
	FileErrors []*csvreport.FileError      // files (or the rest of a file) that could not be read
	Notes      []csvreport.Note            // file-level remarks, in file order
	Formats    map[string]csvreport.Format // what was detected, per file that could be opened
}

// batchRows is how many rows travel together through the worker pipeline.
const batchRows = 64

type batch struct {
	rows []csvreport.Row
	out  []Prepared
	done chan struct{}
}

// CheckFiles reads every file with csvreport ("-" is Options.Stdin, else os.Stdin),
// verifies the hashes on workers goroutines (0 means GOMAXPROCS), feeds the rows to a Checker in input order
// and returns the results. A file that cannot be read is recorded in Report.FileErrors
// and the other files are still read; rows read before a file failed are kept. Opening
// and reading end as soon as ctx is done, also on an input that blocks (standard input,
// a named pipe allowed by Options.AllowSpecialFiles). Bad
// option values return an *OptionError; cancelling ctx stops the work and returns
// ctx.Err().
//
// Memory stays bounded by the rows in flight (a few hundred) plus the compact Results;
// hashes are kept only with Options.KeepHardware.
func CheckFiles(ctx context.Context, files []string, opts Options, workers int) (*Report, error) {
	c, err := New(opts)
	if err != nil {
		return nil, err
	}
	rep, err := c.AddFiles(ctx, files, workers)
	if err != nil {
		return nil, err
	}
	// The pipeline leaves up to a heap's worth of garbage (every row's text and decoded
	// hash); collect it before the ~35 MB of Results for 100,000 rows are built, so that
	// the peak is the live data rather than garbage plus Results.
	runtime.GC()
	rep.Results = c.Results()
	rep.Summary = c.Summary(len(files))
	return rep, nil
}

// AddFiles reads files like CheckFiles and adds their rows to c; the returned Report has
// FileErrors, Notes and Formats but no Results or Summary (call Results and Summary once
// every row is added).
func (c *Checker) AddFiles(ctx context.Context, files []string, workers int) (*Report, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	rep := &Report{Formats: make(map[string]csvreport.Format)}
	jobs := make(chan *batch, workers)
	order := make(chan *batch, 2*workers+2) // bounds the batches in flight
	free := make(chan *batch, 2*workers+4)

	workersDone := make(chan struct{})
	go func() {
		defer close(workersDone)
		done := make(chan struct{})
		for range workers {
			go func() {
				defer func() { done <- struct{}{} }()
				for b := range jobs {
					b.out = b.out[:0]
					for i := range b.rows {
						b.out = append(b.out, c.Prepare(b.rows[i]))
					}
					close(b.done)
				}
			}()
		}
		for range workers {
			<-done
		}
	}()

	readDone := make(chan error, 1)
	go func() {
		defer close(order)
		defer close(jobs)
		readDone <- readFiles(ctx, files, c.opts.Stdin, c.opts.AllowSpecialFiles, rep, free, func(b *batch) bool {
			select {
			case order <- b:
			case <-ctx.Done():
				return false
			}
			select {
			case jobs <- b:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()

	var err error
collect:
	for b := range order {
		select {
		case <-b.done:
		case <-ctx.Done():
			err = ctx.Err()
			break collect
		}
		for i := range b.out {
			c.AddPrepared(b.out[i])
			b.out[i] = Prepared{}
		}
		clear(b.rows)
		select {
		case free <- b:
		default:
		}
	}
	cancel()
	for range order { // let the reader finish when the loop above stopped early
	}
	<-workersDone
	if rerr := <-readDone; err == nil {
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// readFiles reads the files in order and hands batches of rows to emit, which returns
// false when the work is cancelled.
func readFiles(ctx context.Context, files []string, stdin io.Reader, allowSpecial bool, rep *Report, free chan *batch, emit func(*batch) bool) error {
	var cur *batch
	newBatch := func() *batch {
		var b *batch
		select {
		case b = <-free:
			b.rows = b.rows[:0]
		default:
			b = &batch{rows: make([]csvreport.Row, 0, batchRows), out: make([]Prepared, 0, batchRows)}
		}
		b.done = make(chan struct{})
		return b
	}
	err := readInputs(ctx, files, stdin, allowSpecial, false, rep, func(row csvreport.Row) bool {
		if cur == nil {
			cur = newBatch()
		}
		cur.rows = append(cur.rows, row)
		if len(cur.rows) == batchRows {
			if !emit(cur) {
				return false
			}
			cur = nil
		}
		return true
	})
	if err != nil {
		return err
	}
	if cur != nil && !emit(cur) {
		return ctx.Err()
	}
	return ctx.Err()
}

// readInputs reads the files in order (openInput) and hands every row to each. A file
// that cannot be opened, or read on, is recorded in rep.FileErrors and the next file is
// read; rows read before a file failed are kept. rep.Formats and rep.Notes get each
// opened file's format and notes. When ctx is done before a file, or each returns false
// (the work is cancelled), the reading stops and ctx.Err() is returned.
func readInputs(ctx context.Context, files []string, stdin io.Reader, allowSpecial, corporate bool, rep *Report, each func(csvreport.Row) bool) error {
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := openInput(ctx, name, stdin, allowSpecial, corporate)
		if err != nil {
			rep.FileErrors = append(rep.FileErrors, asFileError(name, err))
			continue
		}
		rep.Formats[name] = r.Format()
		for {
			row, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				rep.FileErrors = append(rep.FileErrors, asFileError(name, err))
				break
			}
			if !each(row) {
				r.Close()
				return ctx.Err()
			}
		}
		rep.Notes = append(rep.Notes, r.Notes()...)
		if err := r.Close(); err != nil {
			rep.FileErrors = append(rep.FileErrors, asFileError(name, err))
		}
	}
	return nil
}

// openInput opens a file, or stdin (os.Stdin when nil) for "-", so that opening and
// reading end when ctx does; a path that is not a regular file is refused unless
// allowSpecial. With corporate it is read as a corporate identifier list
// (csvreport.OpenCorporateContext), else as a hash export.
func openInput(ctx context.Context, name string, stdin io.Reader, allowSpecial, corporate bool) (*csvreport.Reader, error) {
	if name == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		if corporate {
			return csvreport.NewCorporateReaderContext(ctx, stdin, name)
		}
		return csvreport.NewReaderContext(ctx, stdin, name)
	}
	o := csvreport.OpenOptions{AllowSpecial: allowSpecial}
	if corporate {
		return csvreport.OpenCorporateContext(ctx, name, o)
	}
	return csvreport.OpenContext(ctx, name, o)
}

// asFileError keeps a *csvreport.FileError as it is and wraps anything else.
func asFileError(name string, err error) *csvreport.FileError {
	var fe *csvreport.FileError
	if errors.As(err, &fe) {
		return fe
	}
	return &csvreport.FileError{File: name, Code: "unreadable", Message: fmt.Sprintf("reading failed: %v", err),
		Hint: "check that the file is readable and complete, then run again", Err: err}
}
