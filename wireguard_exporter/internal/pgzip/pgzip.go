// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package pgzip writes one gzip stream, compressing blocks of it on several
// cores while the caller keeps writing.
//
// Why: at 10,000 WireGuard peers an answer is about 8 MB of text and
// compressing it was most of the exporter's own time in a scrape, on one
// core. Each block is deflated on its own and ended with a sync flush,
// which leaves it byte-aligned, so the blocks concatenate into one valid
// deflate stream (as pigz does); the gzip header and the CRC-32 and length
// trailer are written around them. Any gzip reader reads the result.
package pgzip

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/flate"
)

// BlockSize is how much input each block holds. Every block starts with an
// empty dictionary; at 256 KiB that costs well under 1% in size.
const BlockSize = 256 << 10

// Writer compresses what is written to it into w. It is not safe for
// concurrent use. Close must be called to finish the stream.
type Writer struct {
	w       io.Writer
	level   int
	cur     []byte
	crc     uint32
	size    uint32
	queue   []*block // in order; at most cap(sem) in flight
	sem     chan struct{}
	err     error
	started bool
	closed  bool
}

type block struct {
	in   []byte
	out  *bytes.Buffer
	err  error
	done chan struct{}
}

var outPool = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, BlockSize/2)) }}

var (
	inPool  = sync.Pool{New: func() any { b := make([]byte, 0, BlockSize); return &b }}
	encPool = sync.Map{} // level -> *sync.Pool of *flate.Writer
)

func encoders(level int) *sync.Pool {
	if p, ok := encPool.Load(level); ok {
		return p.(*sync.Pool)
	}
	p, _ := encPool.LoadOrStore(level, &sync.Pool{New: func() any {
		fw, _ := flate.NewWriter(nil, level)
		return fw
	}})
	return p.(*sync.Pool)
}

// NewWriter returns a Writer at a flate level (flate.BestSpeed, ...) that
// uses up to GOMAXPROCS goroutines.
func NewWriter(w io.Writer, level int) *Writer {
	return &Writer{w: w, level: level, sem: make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))}
}

// Write implements io.Writer.
func (z *Writer) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	n := len(p)
	for len(p) > 0 {
		if z.cur == nil {
			z.cur = (*inPool.Get().(*[]byte))[:0]
		}
		k := min(len(p), BlockSize-len(z.cur))
		z.cur = append(z.cur, p[:k]...)
		p = p[k:]
		if len(z.cur) == BlockSize {
			z.dispatch()
		}
	}
	return n, z.err
}

// dispatch hands the current block to a compressing goroutine, first
// writing out the oldest block if as many as there are cores are in flight.
func (z *Writer) dispatch() {
	in := z.cur
	z.cur = nil
	z.crc = crc32.Update(z.crc, crc32.IEEETable, in)
	z.size += uint32(len(in))
	if len(z.queue) == cap(z.sem) {
		z.flushOldest()
	}
	out := outPool.Get().(*bytes.Buffer)
	out.Reset()
	b := &block{in: in, out: out, done: make(chan struct{})}
	z.queue = append(z.queue, b)
	z.sem <- struct{}{}
	go func() {
		defer func() { <-z.sem }()
		fw := encoders(z.level).Get().(*flate.Writer)
		fw.Reset(b.out)
		if _, err := fw.Write(b.in); err != nil {
			b.err = err
		} else {
			// Not Close: a final block would end the stream here. Flush
			// ends the block byte-aligned so the next one can follow.
			b.err = fw.Flush()
		}
		encoders(z.level).Put(fw)
		close(b.done)
	}()
}

// flushOldest waits for the oldest block and writes it.
func (z *Writer) flushOldest() {
	b := z.queue[0]
	z.queue = z.queue[1:]
	<-b.done
	in := b.in[:0]
	inPool.Put(&in)
	defer outPool.Put(b.out)
	if z.err != nil {
		return
	}
	if b.err != nil {
		z.err = b.err
		return
	}
	if !z.started {
		z.started = true
		if _, z.err = z.w.Write(header); z.err != nil {
			return
		}
	}
	_, z.err = z.w.Write(b.out.Bytes())
}

// header is a gzip member header: no name, no time, "fastest" flag, OS
// unknown.
var header = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255}

// finalBlock is an empty final deflate block (fixed Huffman, end of block).
var finalBlock = []byte{0x03, 0x00}

// Close compresses what is left, writes the trailer and waits for every
// goroutine. It does not close the underlying writer.
func (z *Writer) Close() error {
	if z.closed {
		return z.err
	}
	z.closed = true
	if len(z.cur) > 0 {
		z.dispatch()
	} else if z.cur != nil {
		in := z.cur[:0]
		inPool.Put(&in)
		z.cur = nil
	}
	for len(z.queue) > 0 {
		z.flushOldest()
	}
	if z.err != nil {
		return z.err
	}
	if !z.started {
		z.started = true
		if _, z.err = z.w.Write(header); z.err != nil {
			return z.err
		}
	}
	var trailer [10]byte
	copy(trailer[:], finalBlock)
	binary.LittleEndian.PutUint32(trailer[2:], z.crc)
	binary.LittleEndian.PutUint32(trailer[6:], z.size)
	_, z.err = z.w.Write(trailer[:])
	return z.err
}
