package group

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// gather starts one Do per item on g, each after the previous one is
// waiting, with g held so that they form groups only once all wait; it
// returns each item's error and the groups commit was called with.
func gather(t *testing.T, g *Group[int], items []int, commit func([]int) []error) ([]error, [][]int) {
	t.Helper()
	hold := make(chan struct{})
	g.SetHooks(Hooks{Hold: hold})
	var mu sync.Mutex
	var groups [][]int
	recording := func(items []int) []error {
		mu.Lock()
		groups = append(groups, slices.Clone(items))
		mu.Unlock()
		return commit(items)
	}
	errs := make([]chan error, len(items))
	for i, item := range items {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- g.Do(item, recording) }()
		waitFor(t, func() bool { return g.Waiting() == i+1 })
	}
	close(hold)
	out := make([]error, len(items))
	for i := range items {
		select {
		case out[i] = <-errs[i]:
		case <-time.After(10 * time.Second):
			t.Fatalf("item %d still waits after 10 s", items[i])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return out, groups
}

// oddFails commits every item and refuses the odd ones, each with its
// own error.
func oddFails(items []int) []error {
	errs := make([]error, len(items))
	for i, n := range items {
		if n%2 == 1 {
			errs[i] = fmt.Errorf("item %d refused", n)
		}
	}
	return errs
}

func TestGroup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    int
		items  []int
		groups [][]int
	}{
		{"alone", 0, []int{2}, [][]int{{2}}},
		{"the waiting items commit together, in order", 0, []int{2, 3, 4, 5, 6}, [][]int{{2, 3, 4, 5, 6}}},
		{"at most Max a group; the rest is the next group's", 2, []int{2, 3, 4, 5, 6}, [][]int{{2, 3}, {4, 5}, {6}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &Group[int]{Max: tc.max}
			errs, groups := gather(t, g, tc.items, oddFails)
			if !slices.EqualFunc(groups, tc.groups, slices.Equal) {
				t.Errorf("groups %v, want %v", groups, tc.groups)
			}
			for i, n := range tc.items {
				want := n%2 == 1
				if (errs[i] != nil) != want || (want && errs[i].Error() != fmt.Sprintf("item %d refused", n)) {
					t.Errorf("item %d: %v, want its own result (refused: %v)", n, errs[i], want)
				}
			}
			// The lead is free again: a lone item commits alone.
			g.SetHooks(Hooks{})
			if err := g.Do(8, oddFails); err != nil {
				t.Errorf("a lone item after the groups: %v", err)
			}
		})
	}
}

// TestGroupConcurrent: many callers at once, each told its own result,
// none left waiting (run with -race).
func TestGroupConcurrent(t *testing.T) {
	var g Group[int]
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int]int{}
	commit := func(items []int) []error {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range items {
			seen[n]++
		}
		return oddFails(items)
	}
	for w := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				n := w*50 + i
				if err := g.Do(n, commit); (err != nil) != (n%2 == 1) {
					t.Errorf("item %d: %v", n, err)
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != 1000 {
		t.Errorf("%d items committed, want 1000", len(seen))
	}
	for n, times := range seen {
		if times != 1 {
			t.Errorf("item %d committed %d times", n, times)
		}
	}
}

// TestGroupPanic: a commit that panics fails its whole group, the panic
// reaches the caller that led it, and the callers that follow are not
// left waiting.
func TestGroupPanic(t *testing.T) {
	hold := make(chan struct{})
	g := &Group[int]{}
	g.SetHooks(Hooks{Hold: hold})
	commit := func(items []int) []error {
		if slices.Contains(items, 13) {
			panic("a bug in a write")
		}
		return make([]error, len(items))
	}
	leader := make(chan any, 1)
	go func() {
		defer func() { leader <- recover() }()
		_ = g.Do(12, commit)
	}()
	waitFor(t, func() bool { return g.Waiting() == 1 })
	errs := make(chan error, 2)
	for i, n := range []int{13, 14} {
		go func() { errs <- g.Do(n, commit) }()
		waitFor(t, func() bool { return g.Waiting() == i+2 })
	}
	close(hold)
	if p := <-leader; p != "a bug in a write" {
		t.Errorf("the leader recovered %v, want the commit's panic", p)
	}
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrPanicked) {
				t.Errorf("a member of the group: %v, want ErrPanicked", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a member of the group still waits 10 s after the leader's panic")
		}
	}
	g.SetHooks(Hooks{})
	if err := g.Do(15, commit); err != nil {
		t.Errorf("the next item: %v", err)
	}
}

// waitFor waits up to 10 s for cond to hold.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
	}
}
