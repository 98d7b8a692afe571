package mapping_test

import (
	"fmt"

	"github.com/apimport/apimport/csvreport"
	"github.com/apimport/apimport/hwhash"
	"github.com/apimport/apimport/mapping"
)

func ExampleChecker() {
	laptop := hwhash.Device{Serial: "CZC4101480", Manufacturer: "Contoso", Model: "Book 13", UUID: [16]byte{1}}
	again := laptop
	again.CaptureTime = 1_700_000_000 // captured again later: another hash, same machine
	other := hwhash.Device{Serial: "CZC9999999", Manufacturer: "Contoso", Model: "Book 13", UUID: [16]byte{2}}

	c, err := mapping.New(mapping.Options{GroupTag: "Sales"})
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Add(csvreport.Row{File: "a.csv", Line: 2, Serial: "CZC4101480", Hash: laptop.EncodeBase64()})
	c.Add(csvreport.Row{File: "b.csv", Line: 2, Serial: "", Hash: again.EncodeBase64()})
	c.Add(csvreport.Row{File: "b.csv", Line: 3, Serial: "CZC0000001", Hash: other.EncodeBase64()})
	for _, r := range c.Results() {
		fmt.Printf("%s:%d %s %s %v", r.File, r.Line, r.Serial, r.Status, r.Codes)
		if r.DuplicateOf != "" {
			fmt.Print(" of ", r.DuplicateOf)
		}
		if r.Device != nil {
			fmt.Print(" tag=", r.Device.GroupTag)
		}
		fmt.Println()
	}
	s := c.Summary(2)
	fmt.Printf("%d rows, %d devices\n", s.Rows, s.Devices)
	// Output:
	// a.csv:2 CZC4101480 valid [] tag=Sales
	// b.csv:2 CZC4101480 duplicate [duplicate] of a.csv:2
	// b.csv:3 CZC0000001 invalid [serial_mismatch]
	// 3 rows, 1 devices
}
