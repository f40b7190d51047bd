package pii

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadKeyringChecksMode: a keyring file others may read is refused,
// one only its owner may read loads.
func TestLoadKeyringChecksMode(t *testing.T) {
	t.Parallel()
	_, b := newRing(t, "dev", 2)
	tests := []struct {
		mode    os.FileMode
		wantErr string
	}{
		{0o600, ""},
		{0o400, ""},
		{0o640, "must be 0600"},
		{0o644, "must be 0600"},
		{0o602, "must be 0600"},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "keyring.json")
		if err := os.WriteFile(path, b, tt.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tt.mode); err != nil { // past the umask
			t.Fatal(err)
		}
		k, err := LoadKeyring(path)
		switch {
		case tt.wantErr == "" && (err != nil || len(k.Versions()) != 2):
			t.Errorf("mode %04o: %v", tt.mode, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("mode %04o: err %v, want %q", tt.mode, err, tt.wantErr)
		}
	}
}

// TestParseKeyringRefusals: every problem of a keyring file is named.
func TestParseKeyringRefusals(t *testing.T) {
	t.Parallel()
	key := strings.Repeat("A", 43) + "="
	tests := []struct{ name, file, wantErr string }{
		{"not json", `{`, "decode keyring"},
		{"bad id", `{"id":"a:b","current":1,"keys":{"1":"` + key + `"}}`, "keyring id"},
		{"current missing", `{"id":"dev","current":2,"keys":{"1":"` + key + `"}}`, "current version 2"},
		{"short key", `{"id":"dev","current":1,"keys":{"1":"AAAA"}}`, "want 32 bytes"},
		{"version zero", `{"id":"dev","current":1,"keys":{"0":"` + key + `","1":"` + key + `"}}`, "positive integer"},
		{"version not a number", `{"id":"dev","current":1,"keys":{"x":"` + key + `","1":"` + key + `"}}`, "positive integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ParseKeyring([]byte(tt.file)); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestWriteKeyringFileIsPrivate: the file add-kek writes is 0600 even
// over a file that was more open.
func TestWriteKeyringFileIsPrivate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keyring.json")
	if err := os.WriteFile(path, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, b := newRing(t, "dev", 1)
	if err := WriteKeyringFile(path, b); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyring(path); err != nil {
		t.Fatal(err)
	}
}
