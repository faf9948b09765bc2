// Package chaos runs the provider through chaos on the local environment (test/pkg/environment): a workload scaled
// to many nodes and back while the simulated CloudStack fails requests, loses answers after acting, fails
// deployments, throttles, runs out of capacity and goes away for a while, and while the controller is SIGKILLed
// at chosen moments. It reports the figures docs/reliability.md keeps, and every property the run violated.
package chaos
