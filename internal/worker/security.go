package worker

import "github.com/reftrack/reftrack/internal/kafkaconn"

// KafkaSecurity is how workers authenticate to the brokers: the same
// settings, flags and validation as every operator command's
// (kafkaconn.Security), so an ops command reaches whatever cluster the
// workers reach.
type KafkaSecurity = kafkaconn.Security
