package main

import (
	"bufio"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// printPages attributes the binary's resident pages (/proc/PID/pagemap,
// present bit) to its ELF sections, and those of .text, .rodata,
// .noptrdata and .data to the packages whose symbols they hold, the most
// resident first. A page counts once, for the symbol at its start, so
// that the sums are the resident memory.
func printPages(pid int, bin string, top int) error {
	f, err := elf.Open(bin)
	if err != nil {
		return err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return err
	}
	// A page is the last symbol's at or before it; of symbols at one
	// address, markers (runtime.types, runtime.etext, …) sort first.
	slices.SortFunc(syms, func(a, b elf.Symbol) int {
		switch {
		case a.Value < b.Value:
			return -1
		case a.Value > b.Value:
			return 1
		case strings.HasPrefix(a.Name, "runtime.") && !strings.HasPrefix(b.Name, "runtime."):
			return -1
		case strings.HasPrefix(b.Name, "runtime.") && !strings.HasPrefix(a.Name, "runtime."):
			return 1
		}
		return 0
	})
	resident, err := residentPages(pid, bin)
	if err != nil {
		return err
	}
	type count struct {
		name  string
		pages int
	}
	sections := map[string]int{}
	pkgs := map[string]int{}
	for _, addr := range resident {
		sec := "(other)"
		for _, s := range f.Sections {
			if s.Addr != 0 && addr >= s.Addr && addr < s.Addr+s.Size {
				sec = s.Name
				break
			}
		}
		sections[sec]++
		if sec != ".text" && sec != ".rodata" && sec != ".noptrdata" && sec != ".data" {
			continue
		}
		i, _ := slices.BinarySearchFunc(syms, addr, func(s elf.Symbol, a uint64) int {
			switch {
			case s.Value <= a:
				return -1
			}
			return 1
		})
		if i == 0 {
			continue
		}
		pkgs[sec+" "+pkgOf(syms[i-1].Name)]++
	}
	sorted := func(m map[string]int) []count {
		var c []count
		for k, v := range m {
			c = append(c, count{k, v})
		}
		slices.SortFunc(c, func(a, b count) int { return b.pages - a.pages })
		return c
	}
	fmt.Printf("  resident pages of the binary by section:")
	for _, c := range sorted(sections) {
		fmt.Printf(" %s %s;", c.name, kib(int64(c.pages*4)))
	}
	fmt.Println()
	fmt.Printf("  by package (the symbol at each resident page's start):\n")
	for _, c := range sorted(pkgs)[:min(top, len(pkgs))] {
		fmt.Printf("    %8s  %s\n", kib(int64(c.pages*4)), c.name)
	}
	return nil
}

// pkgOf is the package path of a Go symbol name.
func pkgOf(sym string) string {
	slash := strings.LastIndex(sym, "/")
	rest := sym[slash+1:]
	if dot := strings.Index(rest, "."); dot >= 0 {
		return sym[:slash+1+dot]
	}
	return sym
}

// residentPages returns the virtual addresses of the present pages of
// the mappings of bin in process pid.
func residentPages(pid int, bin string) ([]uint64, error) {
	maps, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, err
	}
	defer maps.Close()
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return nil, err
	}
	defer pm.Close()
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	var out []uint64
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != abs {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		start, _ := strconv.ParseUint(lo, 16, 64)
		end, _ := strconv.ParseUint(hi, 16, 64)
		buf := make([]byte, (end-start)/4096*8)
		if _, err := pm.ReadAt(buf, int64(start/4096*8)); err != nil {
			return nil, err
		}
		for i := 0; i < len(buf); i += 8 {
			if binary.LittleEndian.Uint64(buf[i:])&(1<<63) != 0 {
				out = append(out, start+uint64(i/8)*4096)
			}
		}
	}
	return out, sc.Err()
}
