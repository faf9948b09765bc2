// Package zone resolves CloudStack zones, by name or ID (spec.zone) or by selector terms (spec.zoneSelectorTerms),
// from one cached zone listing.
package zone
