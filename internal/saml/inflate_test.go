package saml

import (
	"bytes"
	"compress/flate"
	"strings"
	"testing"
)

func deflated(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.DefaultCompression)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.Bytes()
}

// TestInflateReusesReaders: the DEFLATE reader of a redirect binding
// message (about 40 KB of window and tables) and the buffer it inflates
// into are reused from one message to the next, and a reader left in error by a corrupt message is as good as
// new for the next one; the size limit still holds.
func TestInflateReusesReaders(t *testing.T) {
	doc := `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1">` + strings.Repeat("<x/>", 200) + `</samlp:AuthnRequest>`
	msg := deflated(t, doc)
	for _, tc := range []struct {
		name    string
		in      []byte
		want    string
		wantErr bool
	}{
		{"message", msg, doc, false},
		{"corrupt", []byte{0xff, 0xfe, 0xfd}, "", true},
		{"message after a corrupt one", msg, doc, false},
		{"truncated", msg[:len(msg)/2], "", true},
		{"beyond the limit", deflated(t, strings.Repeat("a", MaxMessageBytes+1)), "", true},
		{"message again", msg, doc, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := inflate(tc.in)
			if (err != nil) != tc.wantErr || string(got) != tc.want {
				t.Fatalf("inflate = %d bytes, %v; want %d bytes, error %v", len(got), err, len(tc.want), tc.wantErr)
			}
		})
	}
	if raceEnabled {
		return
	}
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := inflate(msg); err != nil {
			t.Fatal(err)
		}
	})
	// A new reader is 4 allocations and 40 KB, and growing the output as
	// it comes 4 more: with the reader and the buffer from their pools,
	// what remains is the bytes.Reader and the message, copied once.
	if allocs > 2 {
		t.Errorf("%.0f allocations per message, want at most 2 (a reader and a buffer from their pools)", allocs)
	}
}

func BenchmarkInflate(b *testing.B) {
	msg := func() []byte {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
		_, _ = w.Write([]byte(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1">` + strings.Repeat("<x/>", 200) + `</samlp:AuthnRequest>`))
		_ = w.Close()
		return buf.Bytes()
	}()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := inflate(msg); err != nil {
			b.Fatal(err)
		}
	}
}
