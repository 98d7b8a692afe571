package hwhash

import (
	"crypto/sha256"
	"encoding/base64"
	"testing"
)

// BenchmarkParse measures the full path: 4000 base64 characters to a verified Info.
func BenchmarkParse(b *testing.B) {
	s := fullDevice().EncodeBase64()
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		if h := Parse(s); !h.Valid() {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkParseRealSample is BenchmarkParse on a real export (33 records), when present.
func BenchmarkParseRealSample(b *testing.B) {
	samples := readSamples(b, samplesDir(b))
	s := samples[0].hash
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		if h := Parse(s); !h.Valid() {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkBaseline is the floor Parse cannot beat: base64 decoding plus the SHA-256
// of the checksummed part, without layout checks or field decoding.
func BenchmarkBaseline(b *testing.B) {
	s := fullDevice().EncodeBase64()
	used := usedLen(fullDevice().Encode())
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256(raw[:used])
		if sum[0] != raw[used+4] {
			b.Fatal("checksum")
		}
	}
}

// BenchmarkEncode measures building a full 3000-byte hash.
func BenchmarkEncode(b *testing.B) {
	d := fullDevice()
	b.SetBytes(StandardLength)
	b.ReportAllocs()
	for b.Loop() {
		_ = d.Encode()
	}
}
