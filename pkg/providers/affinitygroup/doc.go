// Package affinitygroup resolves the affinity groups every VM joins, by ID or name, from one cached listing.
package affinitygroup
