package postgres

import "github.com/flexidp/flexidp/internal/store/group"

// VisitGroup is s's group commit of RecordVisit, for the tests.
func VisitGroup(s *Store) group.Tester { return &s.visits }
