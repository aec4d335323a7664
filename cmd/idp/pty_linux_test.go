package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns the two ends of a new pseudo-terminal: what is written
// to tty reads as a terminal to term.IsTerminal, and comes out of master.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestAdminOutputOnATerminal: at a terminal an admin change prints its one
// line, not the audit record; the record is in the store with the OS user
// as actor when $USER is unset; read-only commands take no --actor.
func TestAdminOutputOnATerminal(t *testing.T) {
	e, _ := sqliteEnv(t)
	master, tty := openPTY(t)
	got := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = io.Copy(&b, master) // ends with EIO once tty is closed
		got <- b.String()
	}()
	env, out, _ := e.env("")
	env.stderr = tty
	if code := run(t.Context(), env, []string{"users", "add", "--email", "new@example.com", "--roles", "agent", "--no-password"}); code != 0 {
		t.Fatalf("users add: exit %d", code)
	}
	tty.Close()
	stderr := <-got
	if !strings.HasPrefix(out.String(), "added user new@example.com") {
		t.Errorf("stdout = %q", out)
	}
	if strings.Contains(stderr, "audit") || strings.Contains(stderr, "{") {
		t.Errorf("the terminal shows the audit record:\n%s", stderr)
	}

	var ev struct{ Action, Actor string }
	line := e.cli("", "audit", "tail", "-n", "1", "--json")
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatalf("audit tail --json: %v\n%s", err, line)
	}
	want := "cli"
	if u, err := user.Current(); err == nil {
		want = u.Username
	}
	if ev.Action != "admin.user.add" || ev.Actor != want {
		t.Errorf("audit record = %+v, want admin.user.add by %q ($USER unset)", ev, want)
	}
	// Not a terminal (a log pipeline): the JSON record, as before.
	if out := e.cli("", "users", "disable", "--email", "new@example.com"); !strings.Contains(out, `"msg":"audit"`) {
		t.Errorf("no JSON audit line when stderr is not a terminal:\n%s", out)
	}
	for _, args := range [][]string{{"users", "list"}, {"users", "show", "--email", "new@example.com"}, {"sp", "list"}, {"keys", "list"}} {
		if out := e.cliWant(2, "", append(args, "--actor", "alice")...); !strings.Contains(out, "-actor") {
			t.Errorf("idp %s --actor: %s", strings.Join(args, " "), out)
		}
	}
}
