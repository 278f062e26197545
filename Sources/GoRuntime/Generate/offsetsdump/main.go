// Command offsetsdump prints one entry of Vigil's GoOffsetsTable.swift for the Go toolchain
// that built it: it reads its own executable's DWARF (runtime struct layouts) and symbol table
// (runtime.waitReasonStrings, runtime.gStatusStrings) with the Go standard library, so the table
// comes from the real toolchain and not from Vigil's own readers.
package main

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// The structs read from DWARF, and the members each must (or, with "?", may) have.
var wanted = map[string][]string{
	"runtime.g": {"stack", "m", "sched", "atomicstatus", "goid", "waitsince", "waitreason",
		"trackingSeq?", "parentGoid?", "gopc", "startpc", "waiting"},
	"runtime.gobuf": {"sp", "pc", "bp"},
	"runtime.stack": {"lo", "hi"},
	"runtime.m":     {"id", "procid", "curg", "alllink"},
	"runtime.sudog": {"g", "elem", "c"},
	"[]*runtime.g":  {"array", "len", "cap"},
}

// Wait reasons whose numbers the table records, for tests.
var sampleReasons = []string{"chan receive", "chan send", "select", "sleep", "semacquire"}

type layout struct {
	size    int64
	members map[string]int64
}

func main() {
	path, err := os.Executable()
	check(err)
	file, err := elf.Open(path)
	check(err)
	defer file.Close()
	data, err := file.DWARF()
	check(err)
	layouts := readLayouts(data)
	reasons := readStrings(file, "runtime.waitReasonStrings")
	statuses := readStrings(file, "runtime.gStatusStrings")

	var b strings.Builder
	fmt.Fprintf(&b, "Entry(\n  toolchain: %q,\n  offsets: GoOffsets(\n", runtime.Version())
	fmt.Fprintf(&b, "    g: .init(%s),\n", fields(layouts, "runtime.g", true))
	fmt.Fprintf(&b, "    gobuf: .init(%s),\n", fields(layouts, "runtime.gobuf", false))
	fmt.Fprintf(&b, "    stack: .init(%s),\n", fields(layouts, "runtime.stack", false))
	fmt.Fprintf(&b, "    m: .init(%s),\n", fields(layouts, "runtime.m", true))
	fmt.Fprintf(&b, "    sudog: .init(%s),\n", fields(layouts, "runtime.sudog", true))
	fmt.Fprintf(&b, "    slice: .init(%s)),\n", fields(layouts, "[]*runtime.g", false))
	fmt.Fprintf(&b, "  waitReasonCount: %d,\n  gStatusCount: %d,\n", len(reasons), len(statuses))
	var sample []string
	for _, name := range sampleReasons {
		for i, reason := range reasons {
			if reason == name {
				sample = append(sample, fmt.Sprintf("%q: %d", name, i))
				break
			}
		}
	}
	fmt.Fprintf(&b, "  waitReasonSample: [%s]),\n", strings.Join(sample, ", "))
	fmt.Print(b.String())
}

func readLayouts(data *dwarf.Data) map[string]layout {
	layouts := map[string]layout{}
	reader := data.Reader()
	for len(layouts) < len(wanted) {
		entry, err := reader.Next()
		check(err)
		if entry == nil {
			break
		}
		name, _ := entry.Val(dwarf.AttrName).(string)
		if _, ok := wanted[name]; entry.Tag != dwarf.TagStructType || !ok || !entry.Children {
			continue
		}
		if _, seen := layouts[name]; seen {
			reader.SkipChildren()
			continue
		}
		size, _ := entry.Val(dwarf.AttrByteSize).(int64)
		found := layout{size: size, members: map[string]int64{}}
		for {
			child, err := reader.Next()
			check(err)
			if child == nil || child.Tag == 0 {
				break
			}
			member, _ := child.Val(dwarf.AttrName).(string)
			if offset, ok := child.Val(dwarf.AttrDataMemberLoc).(int64); ok {
				found.members[member] = offset
			}
			if child.Children {
				reader.SkipChildren()
			}
		}
		layouts[name] = found
	}
	return layouts
}

// fields renders "name: offset" for every wanted member of a struct, nil for absent optional ones.
func fields(layouts map[string]layout, name string, withSize bool) string {
	found, ok := layouts[name]
	if !ok {
		fail("no DWARF struct %s", name)
	}
	var parts []string
	if withSize {
		parts = append(parts, fmt.Sprintf("size: %d", found.size))
	}
	for _, member := range wanted[name] {
		optional := strings.HasSuffix(member, "?")
		member = strings.TrimSuffix(member, "?")
		offset, ok := found.members[member]
		switch {
		case ok:
			parts = append(parts, fmt.Sprintf("%s: %d", member, offset))
		case optional:
			parts = append(parts, fmt.Sprintf("%s: nil", member))
		default:
			fail("%s has no member %s", name, member)
		}
	}
	return strings.Join(parts, ", ")
}

// readStrings reads a [N]string variable from the executable's file image.
func readStrings(file *elf.File, symbol string) []string {
	symbols, err := file.Symbols()
	check(err)
	for _, s := range symbols {
		if s.Name != symbol {
			continue
		}
		headers := read(file, s.Value, s.Size)
		var out []string
		for i := uint64(0); i+16 <= uint64(len(headers)); i += 16 {
			pointer := binary.LittleEndian.Uint64(headers[i:])
			length := binary.LittleEndian.Uint64(headers[i+8:])
			out = append(out, string(read(file, pointer, length)))
		}
		return out
	}
	fail("no symbol %s", symbol)
	return nil
}

func read(file *elf.File, address, size uint64) []byte {
	if size == 0 {
		return nil
	}
	for _, section := range file.Sections {
		if section.Type == elf.SHT_PROGBITS && address >= section.Addr &&
			address+size <= section.Addr+section.Size {
			out := make([]byte, size)
			_, err := section.ReadAt(out, int64(address-section.Addr))
			check(err)
			return out
		}
	}
	fail("0x%x (+%d) is in no section", address, size)
	return nil
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "offsetsdump: "+format+"\n", args...)
	os.Exit(1)
}
