package maincurrent

import "testing"

func TestEcho(t *testing.T) {
	for _, msg := range []string{"hello", "world"} {
		got, err := Echo(backend.Addr().String(), msg)
		if err != nil {
			t.Fatal(err)
		}
		if got != msg {
			t.Errorf("Echo(%q) = %q", msg, got)
		}
	}
}
