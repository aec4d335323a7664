package attributes

import "testing"

func TestSetOf(t *testing.T) {
	s, err := SetOf("skills.intarray", "1,2", "department", "Sales")
	if err != nil || len(s) != 2 || s["skills.intarray"].String() != "1,2" || s["department"].String() != "Sales" {
		t.Fatalf("SetOf = %v, %v", s, err)
	}
	if _, err := SetOf("skill.int", "1.23"); err == nil {
		t.Fatal("SetOf accepted a mistyped value")
	}
	if _, err := SetOf("department"); err == nil {
		t.Fatal("SetOf accepted a name without a value")
	}
}
