package users

import (
	"errors"
	"testing"
)

func TestConsoleRoleValidate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want ConsoleRole
		ok   bool
	}{
		{"", ConsoleNone, true},
		{"none", ConsoleNone, true},
		{"viewer", ConsoleViewer, true},
		{"Manager", ConsoleManager, true},
		{" owner ", ConsoleOwner, true},
		{"admin", "", false},
		{"root", "", false},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseConsoleRole(c.in)
			if c.ok && (err != nil || got != c.want) {
				t.Fatalf("ParseConsoleRole(%q) = %q, %v; want %q", c.in, got, err, c.want)
			}
			if !c.ok {
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Field != "console_role" {
					t.Fatalf("ParseConsoleRole(%q) error = %v, want a console_role ValidationError", c.in, err)
				}
			}
		})
	}
	u := User{Email: "a@example.com", ConsoleRole: "superuser"}
	var ve *ValidationError
	if err := u.Validate(); !errors.As(err, &ve) || ve.Field != "console_role" {
		t.Fatalf("Validate of an unknown console role = %v, want a console_role ValidationError", err)
	}
	u.ConsoleRole = ConsoleOwner
	if err := u.Validate(); err != nil {
		t.Fatalf("Validate of an owner = %v", err)
	}
}
