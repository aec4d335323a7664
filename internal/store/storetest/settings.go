package storetest

import (
	"errors"
	"testing"

	"github.com/flexidp/flexidp/internal/store"
)

func testSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.GetSetting(ctx, store.SettingBaseURL); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSetting of an unset name: err = %v, want ErrNotFound", err)
	}
	for _, v := range []string{"http://localhost:8080", "https://idp.example.com"} {
		if err := s.PutSetting(ctx, store.SettingBaseURL, v); err != nil {
			t.Fatalf("PutSetting(%q): %v", v, err)
		}
		got, err := s.GetSetting(ctx, store.SettingBaseURL)
		if err != nil || got != v {
			t.Fatalf("GetSetting after PutSetting(%q) = %q, %v", v, got, err)
		}
	}
	if err := s.PutSetting(ctx, "other", "x"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetSetting(ctx, store.SettingBaseURL); got != "https://idp.example.com" {
		t.Fatalf("another setting changed the base URL: %q", got)
	}
}
