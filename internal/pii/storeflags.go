package pii

import (
	"flag"

	"github.com/reftrack/reftrack/internal/rediscfg"
)

// StoreFlagPrefix starts the name of every flag of the key store's Redis.
const StoreFlagPrefix = "pii-"

// RegisterStoreFlags registers the key store's Redis flags: rediscfg's,
// each prefixed (--pii-redis, --pii-redis-db, --pii-redis-key-prefix, …;
// environment REFTRACK_PII_REDIS, …). The key store is a Redis of its own
// (PRIVACY.md): with the stages' --redis names, an operator's environment
// would point `reftrack erase` at the stages' Redis, where it finds no key
// and erases nothing. Ingest registers the same flags in wave 2.
func RegisterStoreFlags(fs *flag.FlagSet, c *rediscfg.Config) {
	plain := flag.NewFlagSet("", flag.ContinueOnError)
	c.RegisterFlags(plain)
	plain.VisitAll(func(f *flag.Flag) {
		fs.Var(f.Value, StoreFlagPrefix+f.Name, "key store: "+f.Usage)
	})
}
