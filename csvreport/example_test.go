package csvreport_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/apimport/apimport/csvreport"
)

// A ConfigMgr "Windows Autopilot Device Information" report exported as CSV: report text
// boxes, a blank line, a header of element names, then rows whose first cells repeat the
// column labels. The reader finds the data without any hand editing.
func ExampleNewReader() {
	const export = "Textbox_ReportName\r\n" +
		"Windows Autopilot Device Information\r\n" +
		"\r\n" +
		"Details_Table0_Textbox1,Details_Table0_Textbox2,Details_Table0_Textbox3,Details_Table0_SerialNumber,Details_Table0_ProductID,Details_Table0_DeviceHardwareData0\r\n" +
		"Device Serial Number,Windows Product ID,Hardware Hash,PF3ABC12,,T0FBQUFBQUFBQUFBQUFBQUFBQUFB\r\n" +
		"Device Serial Number,Windows Product ID,Hardware Hash,0004711,,T0FBQUFBQUFBQUFBQUFBQUFBQUFC\r\n"
	r, err := csvreport.NewReader(strings.NewReader(export), "report.csv")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	fmt.Println("layout:", r.Format().Layout, "encoding:", r.Format().Encoding)
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s:%d serial %s, hash %s…\n", row.File, row.Line, row.Serial, row.Hash[:8])
	}
	// Output:
	// layout: ssrs encoding: utf-8
	// report.csv:5 serial PF3ABC12, hash T0FBQUFB…
	// report.csv:6 serial 0004711, hash T0FBQUFB…
}

// Files that are not hash exports are refused with a code and a hint.
func ExampleFileError() {
	const list = `"displayName","serialNumber","manufacturer","model","groupTag","id"` + "\r\n" +
		`"PC-1","SYN-1","Contoso","Laptop 7","Sales","00000000-0000-0000-0000-000000000001"` + "\r\n"
	_, err := csvreport.NewReader(strings.NewReader(list), "devices.csv")
	if fe, ok := err.(*csvreport.FileError); ok {
		fmt.Println(fe.Code)
		fmt.Println(fe)
	}
	// Output:
	// device_list_export
	// devices.csv:1: this is a list of devices already registered (Intune/Graph export), not a hardware-hash export
}
