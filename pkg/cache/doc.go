// Package cache names every cache lifetime of the provider in one place (cache.go), with the reason for each value,
// and holds the unavailable-offerings cache that steers launches away from (instance type, zone) pairs that just
// ran out of capacity. Caches are created by the operator and injected into the providers.
package cache
