package pii

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/testenv"
)

// TestPIICommands: the rotation procedure of PRIVACY.md through the
// commands, against the real Redis: a keyring made by add-kek, a second
// version held then activated, keys counted per version, rewrap, and the
// old ciphertext still readable with the old version retired.
func TestPIICommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := redisStore(t)
	prefix := store.Prefix
	path := filepath.Join(t.TempDir(), "keyring.json")
	redis := []string{"--pii-redis", testenv.RedisAddr(), "--pii-redis-key-prefix", prefix}
	run := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := piiCommand(ctx, append([]string{"pii"}, args...), func(string) string { return "" }, &out, &errOut); err != nil {
			t.Fatalf("pii %v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	if out := run("add-kek", "--keyring", path); !strings.Contains(out, "versions [1], current 1") {
		t.Fatalf("new keyring: %q", out)
	}
	ring, err := LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := (&Cipher{Ring: ring, Store: store}).Encrypt(ctx, alice, FieldEmail, "zoe@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if out := run("add-kek", "--keyring", path); !strings.Contains(out, "versions [1 2], current 1") {
		t.Errorf("held version: %q", out)
	}
	if out := run("activate", "--keyring", path, "--version", "2"); !strings.Contains(out, "versions [1 2], current 2") {
		t.Errorf("activate: %q", out)
	}
	if out := run(append([]string{"keys"}, redis...)...); out != "kek_version\tdata_keys\n1\t1\n" {
		t.Errorf("keys before rewrap: %q", out)
	}
	if out := run(append([]string{"rewrap", "--keyring", path}, redis...)...); !strings.HasPrefix(out, "re-wrapped 1 data keys under KEK local/2") {
		t.Errorf("rewrap: %q", out)
	}
	if out := run(append([]string{"keys"}, redis...)...); out != "kek_version\tdata_keys\n2\t1\n" {
		t.Errorf("keys after rewrap: %q", out)
	}
	file, _ := SetCurrentKEK(mustRead(t, path), 2)
	onlyV2 := retire(t, file, "1")
	if got, err := (&Cipher{Ring: onlyV2, Store: store}).Decrypt(ctx, alice, FieldEmail, sealed); err != nil || got != "zoe@example.com" {
		t.Errorf("after rotation and retiring v1: %q, %v", got, err)
	}
	var errOut bytes.Buffer
	if err := piiCommand(ctx, []string{"pii", "activate", "--keyring", path, "--version", "7"}, func(string) string { return "" }, &errOut, &errOut); err == nil {
		t.Error("activating a version the keyring lacks succeeded")
	}
	if err := piiCommand(ctx, []string{"pii", "activate", "--keyring", path + ".missing", "--version", "1"}, func(string) string { return "" }, &errOut, &errOut); err == nil {
		t.Error("activate made a keyring")
	}
	if err := piiCommand(ctx, []string{"pii", "bogus"}, func(string) string { return "" }, &errOut, &errOut); err == nil {
		t.Error("an unknown subcommand succeeded")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
