package sqlite

import (
	"testing"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/storetest"
)

// TestConformance runs the shared store.Store suite, each case on a fresh,
// migrated database file of its own.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
}
