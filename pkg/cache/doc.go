// Package cache names every cache lifetime of the provider in one place (cache.go), with the reason for each value,
// and holds the unavailable-offerings cache that steers launches away from (instance type, zone) pairs that just
// ran out of capacity. Every cache is made by New (named, so its hits and misses are counted), built by the operator
// with the TTLs of its options and injected into the providers; a provider built without the operator (tools, tests)
// makes the same caches with the default TTLs.
package cache
