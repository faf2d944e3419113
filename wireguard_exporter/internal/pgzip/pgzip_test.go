// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package pgzip

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/klauspost/compress/flate"
	kgzip "github.com/klauspost/compress/gzip"
)

// input mixes text-like and random data, so blocks compress differently.
func input(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, 0, n)
	for len(b) < n {
		if rng.IntN(3) == 0 {
			for range rng.IntN(300) {
				b = append(b, byte(rng.Uint32()))
			}
		} else {
			b = append(b, "wireguard_peer_receive_bytes_total{device=\"wg0\",public_key=\"x\"} 123\n"...)
		}
	}
	return b[:n]
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 100, BlockSize - 1, BlockSize, BlockSize + 1, 3*BlockSize + 17, 9 * BlockSize} {
		for _, chunk := range []int{1 << 20, 4096, 7} {
			if n > 2*BlockSize && chunk == 7 {
				continue
			}
			in := input(n, uint64(n+chunk))
			var out bytes.Buffer
			z := NewWriter(&out, flate.BestSpeed)
			for p := in; len(p) > 0; {
				k := min(chunk, len(p))
				if _, err := z.Write(p[:k]); err != nil {
					t.Fatal(err)
				}
				p = p[k:]
			}
			if err := z.Close(); err != nil {
				t.Fatal(err)
			}
			// The standard library checks the CRC and the length.
			zr, err := gzip.NewReader(bytes.NewReader(out.Bytes()))
			if err != nil {
				t.Fatalf("n=%d: %v", n, err)
			}
			zr.Multistream(false)
			got, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("n=%d chunk=%d: %v", n, chunk, err)
			}
			if !bytes.Equal(got, in) {
				t.Fatalf("n=%d chunk=%d: round trip differs", n, chunk)
			}
		}
	}
}

// TestGzipCommand: gzip(1) reads it too, and finds the CRC right.
func TestGzipCommand(t *testing.T) {
	gz, err := exec.LookPath("gzip")
	if err != nil {
		t.Skip("no gzip command")
	}
	in := input(5*BlockSize+123, 9)
	var out bytes.Buffer
	z := NewWriter(&out, flate.BestSpeed)
	if _, err := z.Write(in); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gz, "-dc")
	cmd.Stdin = &out
	got, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, in) {
		t.Fatal("gzip -dc output differs")
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("broken pipe")
	}
	f.n--
	return len(p), nil
}

// TestWriteError: a failing destination is reported, and Close still waits
// for every goroutine (the race detector and the test's end would show a
// leak writing to freed blocks otherwise).
func TestWriteError(t *testing.T) {
	z := NewWriter(&failWriter{n: 2}, flate.BestSpeed)
	in := input(8*BlockSize, 3)
	_, werr := z.Write(in)
	cerr := z.Close()
	if werr == nil && cerr == nil {
		t.Fatal("no error from a broken destination")
	}
}

func BenchmarkWrite8MB(b *testing.B) {
	in := input(8<<20, 1)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		z := NewWriter(io.Discard, flate.BestSpeed)
		_, _ = z.Write(in)
		_ = z.Close()
	}
}

// BenchmarkSingleCore8MB is klauspost's gzip on one core, for comparison.
func BenchmarkSingleCore8MB(b *testing.B) {
	in := input(8<<20, 1)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	zw, _ := kgzip.NewWriterLevel(io.Discard, flate.BestSpeed)
	for b.Loop() {
		zw.Reset(io.Discard)
		_, _ = zw.Write(in)
		_ = zw.Close()
	}
}
