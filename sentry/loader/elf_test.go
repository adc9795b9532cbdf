package loader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

type byteReader []byte

func (b byteReader) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(b).ReadAt(p, off)
}

// minimalELF builds an ET_EXEC header with one PT_LOAD (and an optional PT_INTERP).
func minimalELF(interp string) []byte {
	le := binary.LittleEndian
	phnum := 1
	if interp != "" {
		phnum = 2
	}
	b := make([]byte, 64+56*phnum+len(interp)+1)
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = 2, 1, 1
	le.PutUint16(b[16:], etExec)
	le.PutUint16(b[18:], emX86_64)
	le.PutUint64(b[24:], 0x401000)
	le.PutUint64(b[32:], 64)
	le.PutUint16(b[54:], 56)
	le.PutUint16(b[56:], uint16(phnum))
	p := b[64:]
	le.PutUint32(p[0:], ptLoad)
	le.PutUint32(p[4:], pfR|pfX)
	le.PutUint64(p[16:], 0x400000)
	le.PutUint64(p[32:], uint64(len(b)))
	le.PutUint64(p[40:], uint64(len(b)))
	if interp != "" {
		p = b[64+56:]
		le.PutUint32(p[0:], ptInterp)
		off := 64 + 56*phnum
		le.PutUint64(p[8:], uint64(off))
		le.PutUint64(p[32:], uint64(len(interp)+1))
		copy(b[off:], interp)
	}
	return b
}

func TestParseELF(t *testing.T) {
	f, err := parseELF(byteReader(minimalELF("/lib/ld.so")))
	if err != nil {
		t.Fatal(err)
	}
	if f.entry != 0x401000 || f.interp != "/lib/ld.so" || len(f.phdrs) != 2 {
		t.Fatalf("parsed %+v", f)
	}
	if lo, hi := f.span(); lo != 0x400000 || hi != 0x401000 {
		t.Fatalf("span %#x-%#x", lo, hi)
	}
	if a := f.phdrAddr(); a != 0x400040 {
		t.Fatalf("phdr address %#x, want 0x400040", a)
	}
}

func TestParseELFRejects(t *testing.T) {
	good := minimalELF("")
	cases := map[string][]byte{
		"empty":     nil,
		"not elf":   []byte("#!/bin/sh\necho hi\n"),
		"truncated": good[:40],
		"no phdrs":  good[:64],
	}
	bad32 := append([]byte(nil), good...)
	bad32[4] = 1
	cases["elf32"] = bad32
	badMachine := append([]byte(nil), good...)
	badMachine[18] = 3
	cases["i386"] = badMachine
	for name, b := range cases {
		if _, err := parseELF(byteReader(b)); !errors.Is(err, unix.ENOEXEC) {
			t.Errorf("%s: got %v, want ENOEXEC", name, err)
		}
	}
}

// FuzzParseELF: the parser must never panic on arbitrary bytes.
func FuzzParseELF(f *testing.F) {
	f.Add(minimalELF(""))
	f.Add(minimalELF("/lib64/ld-linux-x86-64.so.2"))
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseELF(byteReader(b))
	})
}
