// Package k8s holds reftrack's Kubernetes manifests: a kustomize base
// (base/) and overlays (overlays/dev). It has no code; its test renders
// every kustomization with `kubectl kustomize`, decodes each object strictly
// into its API type (unknown fields fail), and holds the manifests to the
// binaries: every REFTRACK_* variable and argument must be a flag the
// stage's binary registers, the dev overlay's configuration must pass the
// binary's own Validate, probes must hit the ops port, GOMEMLIMIT must sit
// under the memory limit, and each stage must have a PodDisruptionBudget and
// a KEDA ScaledObject whose bounds and consumer group match it. Every file
// the commission stage reads by flag (rules, licences, FX rates) must be set,
// mounted from a ConfigMap as a directory, and load with the stage's own
// loader; each CronJob must run a reftrack command with that command's
// flags, variables and, for the dev overlay, its check.
package k8s
