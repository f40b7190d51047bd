package worker

import "flag"

func flagSet(cfg *Config) *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.RegisterFlags(fs, "test")
	return fs
}
