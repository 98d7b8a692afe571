package hwhash_test

import (
	"fmt"

	"github.com/apimport/apimport/hwhash"
)

func ExampleDevice_Encode() {
	d := hwhash.Device{
		Serial:       "PF3ABC12",
		Manufacturer: "LENOVO",
		Model:        "21G2001VUS",
		UUID:         [16]byte{0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff},
		MACs:         [][6]byte{{0x40, 0xc7, 0x3c, 0x61, 0xaf, 0xad}},
	}
	b64 := d.EncodeBase64()
	fmt.Println("base64 characters:", len(b64))

	h := hwhash.Parse(b64)
	fmt.Println("valid:", h.Valid())
	fmt.Println("serial:", h.Info.Serial)
	fmt.Println("model:", h.Info.Model)
	fmt.Println("uuid:", h.Info.SMBIOSUUID)
	fmt.Println("mac:", h.Info.MACs[0])
	// Output:
	// base64 characters: 4000
	// valid: true
	// serial: PF3ABC12
	// model: 21G2001VUS
	// uuid: 00112233-4455-6677-8899-aabbccddeeff
	// mac: 40:c7:3c:61:af:ad
}

func ExampleParse() {
	d := hwhash.Device{Serial: "5CG1234XYZ", Manufacturer: "HP"}
	raw := d.Encode()
	raw[100] ^= 0xff // damage one byte of the record area

	h := hwhash.ParseBytes(raw)
	fmt.Println("valid:", h.Valid())
	for _, p := range h.Problems {
		fmt.Printf("%s (warning=%v)\n", p.Code, p.Warning)
	}
	// Output:
	// valid: false
	// hash_checksum (warning=false)
}
