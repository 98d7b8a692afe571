//go:build ignore

// genfleet writes a synthetic fleet for the benchmark scripts: DIR/fleet.csv
// (Get-WindowsAutopilotInfo columns, N new devices with valid 3000-byte hashes) and
// DIR/hashes.txt (the first 48 characters of every hash, for leak checks). Nothing
// is random across runs except through SEED.
//
//	go run scripts/genfleet.go DIR N PREFIX [SEED]
package main

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"

	"github.com/apimport/apimport/hwhash"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: go run scripts/genfleet.go DIR N PREFIX [SEED]")
		os.Exit(2)
	}
	dir, prefix := os.Args[1], os.Args[3]
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "genfleet: N must be a positive number")
		os.Exit(2)
	}
	seed := int64(1)
	if len(os.Args) > 4 {
		seed, _ = strconv.ParseInt(os.Args[4], 10, 64)
	}
	r := rand.New(rand.NewSource(seed))
	csvF, err := os.Create(filepath.Join(dir, "fleet.csv"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "genfleet:", err)
		os.Exit(1)
	}
	hashF, err := os.Create(filepath.Join(dir, "hashes.txt"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "genfleet:", err)
		os.Exit(1)
	}
	w, hw := bufio.NewWriterSize(csvF, 1<<20), bufio.NewWriter(hashF)
	fmt.Fprintln(w, "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag")
	ek := make([]byte, 256)
	for i := 0; i < n; i++ {
		d := hwhash.Device{
			Serial: fmt.Sprintf("%s%07d", prefix, i), Manufacturer: "Contoso", Model: "Laptop 7",
			SKU: "SKU1", Family: "Fam", TPMVersion: "2.0", CaptureTime: uint64(1700000000 + i),
			DiskSerials: []string{fmt.Sprintf("DISK%08d", i)},
		}
		r.Read(d.UUID[:])
		var mac [6]byte
		r.Read(mac[:])
		d.MACs = [][6]byte{mac}
		r.Read(ek)
		d.EKPub = ek
		h := d.EncodeBase64()
		fmt.Fprintf(w, "%s,,%s,Fleet\n", d.Serial, h)
		fmt.Fprintln(hw, h[:48])
	}
	for _, f := range []func() error{w.Flush, hw.Flush, csvF.Close, hashF.Close} {
		if err := f(); err != nil {
			fmt.Fprintln(os.Stderr, "genfleet:", err)
			os.Exit(1)
		}
	}
}
