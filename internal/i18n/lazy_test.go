package i18n

import (
	"io/fs"
	"path"
	"slices"
	"sync"
	"testing"
)

// openCounter is an fs.FS that records the catalog files (*.json) opened
// through it.
type openCounter struct {
	fs.FS
	mu     sync.Mutex
	opened []string
}

func (c *openCounter) Open(name string) (fs.File, error) {
	if path.Ext(name) == ".json" {
		c.mu.Lock()
		c.opened = append(c.opened, name)
		c.mu.Unlock()
	}
	return c.FS.Open(name)
}

func (c *openCounter) files() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.opened)
}

// TestCatalogParsedOnFirstUse: listing the languages reads no catalog,
// and reading one language parses its file only, once. An idle server
// holds the languages its readers used, not all of them (docs/
// performance.md, "Idle memory").
func TestCatalogParsedOnFirstUse(t *testing.T) {
	fsys := &openCounter{FS: files}
	cats, langs := languagesIn(fsys)
	if !slices.Equal(langs, Languages) {
		t.Fatalf("languages %v, want %v", langs, Languages)
	}
	if got := fsys.files(); len(got) != 0 {
		t.Fatalf("listing the languages opened %v; want no catalog read", got)
	}
	fr := cats["fr"]()
	if fr["language.name"].Text == "" {
		t.Fatalf("the French catalog has no language.name: %v entries", len(fr))
	}
	_ = cats["fr"]()
	if got, want := fsys.files(), []string{"locales/fr.json"}; !slices.Equal(got, want) {
		t.Fatalf("reading French twice opened %v; want %v", got, want)
	}
}
