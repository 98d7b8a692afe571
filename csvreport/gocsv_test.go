package csvreport

import (
	"strings"
	"testing"

	"github.com/gocarina/gocsv"
)

// TestGocsvGlobalsIgnored: gocsv's package-global switches, if some other package sets
// them, must not change what the reader returns.
func TestGocsvGlobalsIgnored(t *testing.T) {
	oldUnmatched, oldDouble := gocsv.FailIfUnmatchedStructTags, gocsv.FailIfDoubleHeaderNames
	gocsv.FailIfUnmatchedStructTags = true
	gocsv.FailIfDoubleHeaderNames = true
	gocsv.SetHeaderNormalizer(strings.ToUpper)
	t.Cleanup(func() {
		gocsv.FailIfUnmatchedStructTags, gocsv.FailIfDoubleHeaderNames = oldUnmatched, oldDouble
		gocsv.SetHeaderNormalizer(gocsv.DefaultNameNormalizer())
	})
	h := fakeHash(5)
	text := crlf("Serial Number,Computer Name,Hardware Hash,Notes", "S1,PC1,"+h+",n")
	res := readBytes(t, []byte(text), "g.csv")
	if res.err != nil {
		t.Fatal(res.err)
	}
	checkRows(t, res.rows, []wantRow{{2, "S1", true, "", ""}})
}
